"""The key/value cache of the rows decoding together, kept left-padded.

Rows join and leave between decoding steps. Every row's tokens end at the same
column, so one decoding step appends one column for all rows; a row with a
shorter history has padding on its left that the attention mask hides, and
its own position ids so rotary embeddings see the positions it would see
alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import Cache, DynamicCache, PretrainedConfig
from transformers.cache_utils import DynamicLayer

# Columns of spare room a layer allocates when it grows: one copy of the cache per this many steps.
SPARE_COLUMNS = 64


class GrowingLayer(DynamicLayer):
    """A DynamicLayer that writes new columns into spare room.

    DynamicLayer concatenates, so every step copies the whole cache of every
    layer (rows x tokens x heads); here a step copies only the new column, and
    the whole cache once every SPARE_COLUMNS steps.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._room: tuple[torch.Tensor, torch.Tensor] | None = None  # keys/values are views of these

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        used = self.get_seq_length()
        needed = used + key_states.shape[2]
        if self._room is None or needed > self._room[0].shape[2]:
            room = tuple(
                states.new_empty((states.shape[0], states.shape[1], needed + SPARE_COLUMNS, states.shape[3]))
                for states in (key_states, value_states)
            )
            if used:
                room[0][:, :, :used] = self.keys
                room[1][:, :, :used] = self.values
            self._room = room
        self._room[0][:, :, used:needed] = key_states
        self._room[1][:, :, used:needed] = value_states
        self.keys, self.values = self._room[0][:, :, :needed], self._room[1][:, :, :needed]
        return self.keys, self.values

    def replace(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        self.keys, self.values, self._room = keys, values, None
        self.is_initialized = True


@dataclass
class PaddedKV:
    cache: Cache
    mask: torch.Tensor  # [rows, columns], True where a real token is cached
    next_positions: torch.Tensor  # [rows], position id of each row's next token

    @property
    def rows(self) -> int:
        return self.mask.shape[0]

    def append_column(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Attention mask and position ids for a step that feeds one token per row."""
        self.mask = torch.cat([self.mask, self.mask.new_ones(self.rows, 1)], dim=1)
        positions = self.next_positions.unsqueeze(1)
        self.next_positions = self.next_positions + 1
        return self.mask, positions

    def forget(self, row: int, count: int) -> None:
        """Hide ``row``'s last ``count`` cached tokens from attention (a rewind); their columns stay as padding.

        The row's next token then takes the position of the first one forgotten (set next_positions).
        """
        cached = self.mask[row].nonzero()[:, 0]
        self.mask[row, cached[len(cached) - count:]] = False

    def keep(self, rows: list[int]) -> None:
        """Keep only ``rows`` (in this order) and drop padding columns no row needs any more."""
        index = torch.tensor(rows, dtype=torch.long, device=self.mask.device)
        mask = self.mask.index_select(0, index)
        used = mask.any(dim=0).nonzero()
        first = int(used[0]) if len(used) else mask.shape[1]
        for layer in self.cache.layers:
            keys = layer.keys.index_select(0, index)[:, :, first:]
            layer.replace(keys, layer.values.index_select(0, index)[:, :, first:])
        self.mask = mask[:, first:]
        self.next_positions = self.next_positions.index_select(0, index)

    def extend(self, other: PaddedKV) -> None:
        """Append ``other``'s rows, left-padding whichever side is shorter."""
        columns = max(self.mask.shape[1], other.mask.shape[1])
        for mine, theirs in zip(self.cache.layers, other.cache.layers, strict=True):
            mine.replace(
                torch.cat([_pad_left(mine.keys, columns), _pad_left(theirs.keys, columns)]),
                torch.cat([_pad_left(mine.values, columns), _pad_left(theirs.values, columns)]),
            )
        self.mask = torch.cat([_pad_left(self.mask, columns), _pad_left(other.mask, columns)])
        self.next_positions = torch.cat([self.next_positions, other.next_positions])


def prefill_inputs(prompts: list[list[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Left-padded input ids, attention mask and position ids for several prompts."""
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.bool)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
        mask[row, width - len(prompt) :] = True
    positions = (mask.long().cumsum(dim=1) - 1).clamp(min=0)
    return ids.to(device), mask.to(device), positions.to(device)


def new_cache(config: PretrainedConfig) -> Cache:
    # Ask transformers which kinds of layer this model caches, so that models we cannot batch fail loudly.
    layers = DynamicCache(config=config).layers
    if not layers:
        raise NotImplementedError("Batching needs a model whose config names its layers.")
    unsupported = {type(layer).__name__ for layer in layers if type(layer) is not DynamicLayer}
    if unsupported:
        # Sliding-window and linear-attention layers keep state we cannot left-pad and merge.
        raise NotImplementedError(f"Batching does not support cache layers {sorted(unsupported)} yet.")
    return Cache(layers=[GrowingLayer() for _ in layers])


def _pad_left(tensor: torch.Tensor, columns: int) -> torch.Tensor:
    missing = columns - (tensor.shape[2] if tensor.dim() == 4 else tensor.shape[1])
    if missing == 0:
        return tensor
    if tensor.dim() == 4:  # [rows, heads, columns, head_dim]
        return F.pad(tensor, (0, 0, missing, 0))
    return F.pad(tensor, (missing, 0))
