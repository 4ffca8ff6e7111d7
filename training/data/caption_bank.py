"""Captions as frozen MiniLM word embeddings, kept on the training device: every distinct caption
embedded once, stored ragged, a batch gathered by caption id. The evaluator and the generator
trainers both read their text through it."""
from __future__ import annotations

import torch


def to_device(x: torch.Tensor, device) -> torch.Tensor:
    """CPU index tensor -> device without waiting for the GPU (pinned, asynchronous copy)."""
    if str(device).startswith("cuda"):
        return x.pin_memory().to(device, non_blocking=True)
    return x


class CaptionBank:
    """Every distinct caption as frozen MiniLM word embeddings, stored ragged on the device.

    tokens [Ntok,384] fp16 (rows of caption u: start[u] .. start[u]+length[u]),
    sent [U,384] fp16 unit-length sentence embeddings; clip i's captions are
    caps[ptr[i]:ptr[i+1]] (ids into the bank). The small index arrays stay on
    the CPU: a step's index arithmetic never waits for the GPU."""

    def __init__(self, captions: list[list[str]], device, max_tokens: int, batch: int = 512, progress: bool = True):
        from engine.text_encoder import TextEncoder, pool
        uid, caps, ptr = {}, [], [0]
        for clip_caps in captions:
            for c in clip_caps:
                caps.append(uid.setdefault(c, len(uid)))
            ptr.append(len(caps))
        texts = list(uid)
        self.caps = torch.tensor(caps, dtype=torch.long)
        self.ptr = torch.tensor(ptr, dtype=torch.long)
        self.texts, self.device = texts, device
        enc = TextEncoder(device=device, max_length=max_tokens, batch_size=batch)
        order = sorted(range(len(texts)), key=lambda u: len(texts[u]))     # similar lengths share a batch
        length = torch.zeros(len(texts), dtype=torch.long)
        self.sent = torch.zeros(len(texts), 384, dtype=torch.float16, device=device)
        chunks = []
        it = range(0, len(order), batch)
        if progress:
            from tqdm import tqdm
            it = tqdm(it, desc="MiniLM captions", unit="batch")
        for i in it:
            ids = order[i:i + batch]
            tok, mask = enc.encode_tokens([texts[u] for u in ids])        # [b,L,384], [b,L]
            chunks.append(tok[mask].half())                                # valid rows, caption after caption
            length[ids] = mask.sum(1).cpu()
            self.sent[ids] = pool(tok, mask).half()
        flat = torch.cat(chunks) if chunks else torch.zeros(0, 384, dtype=torch.float16, device=device)
        # Rows were written in `order`; caption u starts after all captions before it in that order.
        start_sorted = torch.cumsum(length[order], 0) - length[order]
        start = torch.zeros(len(texts), dtype=torch.long)
        start[order] = start_sorted
        self.tokens, self.start, self.length = flat, start, length

    def num_captions(self, clips: torch.Tensor) -> torch.Tensor:
        return self.ptr[clips + 1] - self.ptr[clips]

    def pick(self, clips: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """clips [B], u [B] uniform in [0,1) (CPU) -> caption ids [B] (CPU), one of each clip's captions."""
        n = self.num_captions(clips)
        return self.caps[self.ptr[clips] + (u * n).long().clamp_max(n - 1)]

    def batch(self, cap_ids: torch.Tensor):
        """caption ids [B] (CPU) -> (tokens [B,L,384] fp16, mask [B,L] bool) on the device,
        L = longest caption of the batch."""
        n = self.length[cap_ids]
        ar = torch.arange(int(n.max()))
        mask = ar[None, :] < n[:, None]
        pos = torch.where(mask, self.start[cap_ids, None] + ar[None, :], 0)
        pos, mask = to_device(pos, self.device), to_device(mask, self.device)
        return self.tokens[pos] * mask[..., None], mask

    def sentences(self, cap_ids: torch.Tensor) -> torch.Tensor:
        """caption ids [B] (CPU) -> [B,384] unit sentence embeddings on the device."""
        return self.sent[to_device(cap_ids, self.device)]
