"""A sentence-transformers BERT model (the bundled all-MiniLM-L6-v2) run in plain torch.

Importing sentence-transformers takes longer than everything else a cold start does (4.5 s on 2
cores: it imports scikit-learn and most of transformers); reading and running the model needs
only torch, ``tokenizers`` and ``safetensors`` (0.1 s beyond torch). For a model folder of the
plain shape (BERT, mean pooling, normalisation; see :func:`is_plain_bert`) :class:`BertSentenceModel`
computes what ``SentenceTransformer.encode(..., normalize_embeddings=True)`` computes, op for op
and in the same batches, so the vectors are bitwise the same (``tests/test_bert_encoder.py``
checks it): embedding caches written by either stay valid. Other folders load with
sentence-transformers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

_MODULES = ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
            "sentence_transformers.models.Normalize"]
_MEAN_ONLY = {"pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
              "pooling_mode_mean_sqrt_len_tokens": False}


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_plain_bert(path: Path) -> bool:
    """Whether ``path`` holds a sentence-transformers model this module runs exactly: a BERT
    encoder (absolute positions, GELU) in safetensors with a fast tokenizer, then mean pooling,
    then normalisation, and nothing else."""
    modules = _json(path / "modules.json")
    config = _json(path / "config.json") or {}
    sbert = _json(path / "sentence_bert_config.json") or {}
    prompts = _json(path / "config_sentence_transformers.json") or {}
    if not isinstance(modules, list) or [m.get("type") for m in modules] != _MODULES:
        return False
    pooling = _json(path / modules[1].get("path", "") / "config.json") or {}
    return (
        config.get("model_type") == "bert" and not config.get("is_decoder", False)
        and config.get("position_embedding_type", "absolute") == "absolute" and config.get("hidden_act") == "gelu"
        and set(sbert) <= {"max_seq_length", "do_lower_case"} and isinstance(sbert.get("max_seq_length"), int)
        and not sbert.get("do_lower_case", False)
        and not prompts.get("default_prompt_name")
        and {k: pooling.get(k, False) for k in _MEAN_ONLY} == _MEAN_ONLY
        and not any(v for k, v in pooling.items() if k.startswith("pooling_mode") and k not in _MEAN_ONLY)
        and (path / "model.safetensors").is_file() and (path / "tokenizer.json").is_file()
    )


class BertSentenceModel:
    """The model in a plain BERT folder (see :func:`is_plain_bert`), on the CPU."""

    def __init__(self, path: Path) -> None:
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        self._torch = torch
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        sbert = json.loads((path / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self._weights = {k.removeprefix("bert."): v for k, v in load_file(str(path / "model.safetensors")).items()}
        self._heads = int(config["num_attention_heads"])
        self._layers = int(config["num_hidden_layers"])
        self._eps = float(config["layer_norm_eps"])
        # As sentence-transformers sets up its tokenizer: cut at max_seq_length (no further than the
        # model's positions reach), pad to the longest text of a batch.
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.enable_truncation(min(sbert["max_seq_length"], int(config["max_position_embeddings"])),
                                          strategy="longest_first")
        pad = (_json(path / "special_tokens_map.json") or {}).get("pad_token", "[PAD]")
        pad = pad["content"] if isinstance(pad, dict) else pad
        self._tokenizer.enable_padding(pad_id=self._tokenizer.token_to_id(pad), pad_token=pad)
        self.dim = int(config["hidden_size"])

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Unit vectors for ``texts``, batched as sentence-transformers batches them (longest first)."""
        torch = self._torch
        order = np.argsort([-len(t) for t in texts])
        out: list[Any] = []
        with torch.inference_mode():
            for begin in range(0, len(texts), batch_size):
                encoded = self._tokenizer.encode_batch([texts[i] for i in order[begin:begin + batch_size]])
                ids = torch.tensor([e.ids for e in encoded], dtype=torch.long)
                mask = torch.tensor([e.attention_mask for e in encoded], dtype=torch.long)
                out.extend(self._forward(ids, mask))
        if not out:
            return np.zeros((0, self.dim), np.float32)
        return torch.stack([out[i] for i in np.argsort(order)]).numpy()

    def _layer_norm(self, x: Any, name: str) -> Any:
        w = self._weights
        return self._torch.nn.functional.layer_norm(x, (x.shape[-1],), w[f"{name}.weight"], w[f"{name}.bias"], self._eps)

    def _linear(self, x: Any, name: str) -> Any:
        return self._torch.nn.functional.linear(x, self._weights[f"{name}.weight"], self._weights[f"{name}.bias"])

    def _forward(self, ids: Any, mask: Any) -> Any:
        # transformers' BertModel (sdpa attention) and sentence-transformers' Pooling and Normalize, in their order.
        torch, F, w = self._torch, self._torch.nn.functional, self._weights
        batch, length = ids.shape
        h = (F.embedding(ids, w["embeddings.word_embeddings.weight"])
             + F.embedding(torch.zeros_like(ids), w["embeddings.token_type_embeddings.weight"]))
        h = h + F.embedding(torch.arange(length).unsqueeze(0), w["embeddings.position_embeddings.weight"])
        h = self._layer_norm(h, "embeddings.LayerNorm")
        # No mask at all when nothing is padded, as transformers does (sdpa then takes another kernel).
        attend = None if bool(mask.all()) else mask.bool()[:, None, None, :].expand(batch, 1, length, length)
        head = h.shape[-1] // self._heads
        for i in range(self._layers):
            p = f"encoder.layer.{i}"
            q, k, v = (self._linear(h, f"{p}.attention.self.{n}").view(batch, length, -1, head).transpose(1, 2)
                       for n in ("query", "key", "value"))
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=attend, dropout_p=0.0, scale=head ** -0.5)
            a = a.transpose(1, 2).contiguous().reshape(batch, length, -1).contiguous()
            a = self._layer_norm(self._linear(a, f"{p}.attention.output.dense") + h, f"{p}.attention.output.LayerNorm")
            x = F.gelu(self._linear(a, f"{p}.intermediate.dense"))
            h = self._layer_norm(self._linear(x, f"{p}.output.dense") + a, f"{p}.output.LayerNorm")
        weights = mask.unsqueeze(-1).to(h.dtype)
        mean = (h * weights).sum(dim=1, dtype=torch.float32) / torch.clamp(weights.sum(dim=1, dtype=torch.float32),
                                                                           min=1e-9)
        # Normalised by the Normalize module, then again by encode(normalize_embeddings=True).
        return F.normalize(F.normalize(mean, p=2, dim=-1), p=2, dim=1)
