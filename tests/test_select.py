"""`policy-tagger select`: the N unlabelled paragraphs closest to a threshold, new ones only, no near-duplicates
under --strategy diverse."""
import json
from itertools import combinations

import pytest

from policy_tagger.cli.main import main
from policy_tagger.service.modelcard import load_card
from policy_tagger.service.paths import DATA_DIR
from policy_tagger.service.selection import NEAR_DUPLICATE_JACCARD, jaccard, normalised, shingles

VARIANTS = ("（一）", "（二）", "（三）")


def _train_texts(start: int, stop: int) -> list[str]:
    lines = (DATA_DIR / "train.jsonl").read_text(encoding="utf-8").splitlines()[start:stop]
    return [json.loads(line)["text"] for line in lines]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """20 labelled paragraphs as they are in labels/data, and 15 new ones, each in three near-identical variants."""
    rows = [{"id": f"old{i}", "text": t} for i, t in enumerate(_train_texts(0, 20))]
    rows += [{"id": f"new{i}-{v}", "text": t + "据县扶贫办统计。" + suffix}
             for i, t in enumerate(_train_texts(200, 215)) for v, suffix in enumerate(VARIANTS)]
    path = tmp_path_factory.mktemp("select") / "unlabelled.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _select(tiny_model, inputs, out, *extra) -> list[dict]:
    assert main(["select", str(inputs), "--model", str(tiny_model), "--out", str(out), "--quiet", *extra]) == 0
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def _labelled_texts() -> set[str]:
    return {normalised(json.loads(line)["text"]) for path in DATA_DIR.glob("*.jsonl")
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def _near_duplicate_pairs(picks: list[dict]) -> list[tuple[str, str]]:
    return [(a["id"], b["id"]) for a, b in combinations(picks, 2)
            if jaccard(shingles(a["text"]), shingles(b["text"])) >= NEAR_DUPLICATE_JACCARD]


def test_uncertainty_picks_n_new_paragraphs_closest_to_a_threshold_first(tiny_model, inputs, tmp_path):
    picks = _select(tiny_model, inputs, tmp_path / "picks.jsonl", "--n", "12")
    assert len(picks) == 12
    assert not {normalised(p["text"]) for p in picks} & _labelled_texts()
    thresholds = load_card(tiny_model).thresholds
    for pick in picks:
        distances = {label: abs(score - thresholds[label]) for label, score in pick["scores"].items()}
        closest = min(distances, key=distances.get)
        assert pick["why"]["strategy"] == "uncertainty"
        assert pick["why"]["margin"] == pytest.approx(distances[closest], abs=1e-3)
        assert pick["labels"] == [label for label, s in pick["scores"].items() if s >= thresholds[label]]
    margins = [p["why"]["margin"] for p in picks]
    assert margins == sorted(margins)


def test_diverse_never_picks_two_near_duplicates(tiny_model, inputs, tmp_path):
    uncertain = _select(tiny_model, inputs, tmp_path / "u.jsonl", "--n", "12")
    assert _near_duplicate_pairs(uncertain), "the input should tempt uncertainty into near-duplicates"
    diverse = _select(tiny_model, inputs, tmp_path / "d.jsonl", "--n", "12", "--strategy", "diverse")
    assert len(diverse) == 12 and not _near_duplicate_pairs(diverse)
    margins = [p["why"]["margin"] for p in diverse]
    assert margins == sorted(margins)


def test_random_is_seeded(tiny_model, inputs, tmp_path):
    first = _select(tiny_model, inputs, tmp_path / "a.jsonl", "--n", "5", "--strategy", "random", "--seed", "1")
    again = _select(tiny_model, inputs, tmp_path / "b.jsonl", "--n", "5", "--strategy", "random", "--seed", "1")
    other = _select(tiny_model, inputs, tmp_path / "c.jsonl", "--n", "5", "--strategy", "random", "--seed", "2")
    assert [p["id"] for p in first] == [p["id"] for p in again] != [p["id"] for p in other]


def test_asking_for_more_than_there_is_gives_every_new_paragraph(tiny_model, inputs, tmp_path, capsys):
    picks = _select(tiny_model, inputs, tmp_path / "all.jsonl", "--n", "500")
    assert len(picks) == 45
    assert "only 45 unlabelled paragraphs" in capsys.readouterr().err


@pytest.mark.parametrize("n", ["0", "-3"])
def test_n_below_one_is_a_usage_error(tiny_model, inputs, tmp_path, capsys, n):
    assert main(["select", str(inputs), "--model", str(tiny_model), "--n", n, "--out", str(tmp_path / "p.jsonl")]) == 2
    assert "--n must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "p.jsonl").exists()


def test_n_not_a_number_exits_2(inputs):
    with pytest.raises(SystemExit) as exit_:
        main(["select", str(inputs), "--n", "many"])
    assert exit_.value.code == 2
