"""CatBoost's SHAP contributions for a batch, from a table made once per model (decision 0017).

CatBoost's SHAP values (its default "Regular" kind: path-dependent TreeSHAP) give a row's contribution of one
oblivious tree as a function of the leaf the row falls in and nothing else. CatBoost builds that table
[tree, leaf] -> contributions itself on every call, then fills and converts a nested vector per row (2.4 s for
50,000 rows of a 300-tree model here). Made once and kept with the model, a batch becomes CatBoost's own leaf
indexes and one gather-and-add per tree and feature.

The table is the Shapley value of each tree's path-dependent expectation, computed exactly by enumerating the
subsets of the tree's features (a tree has at most `depth` of them), as CatBoost does it: the root is the tree's
last split, a node's children are weighted by the training weight that fell in them, splits on one feature are one
player, a categorical combination's share is split equally between its categorical features. Tests hold it equal
to CatBoost's `get_feature_importance(type="ShapValues")` to 1e-9 on float, one-hot, CTR and combination splits,
depths 1 to 8 and calibrated models.
"""

from __future__ import annotations

import json
import tempfile
from math import factorial
from pathlib import Path
from typing import Any

import numpy as np
from catboost import CatBoostClassifier, CatBoostError

_SPLITS = {"FloatFeature", "OneHotFeature", "OnlineCtr"}
_FEW = 256  # rows up to which `values` gathers everything at once
_BLOCK = 64  # trees per vectorised block: bounds the subset-by-leaf arrays (64 x 256 x 256 floats at depth 8)


class ShapTable:
    """Per tree, the contribution of each leaf to each feature it uses (flat feature index), and the expected
    value (the sum of the trees' weighted means): the trees' own log-odds, before the model's scale and bias
    (applied by `model.inputs.shap_values`, so a calibration set after the table was made still counts)."""

    def __init__(self, n_features: int, entries: list[tuple[int, int, np.ndarray]], expected: float) -> None:
        self.n_features, self.entries, self.expected = n_features, entries, expected  # (tree, feature, by leaf)
        # The entries laid end to end, grouped by feature: a few rows are one gather and one sum.
        by_feature = sorted(entries, key=lambda e: (e[1], e[0]))
        features = np.array([f for _, f, _ in by_feature], dtype=np.intp)
        self._trees = np.array([t for t, _, _ in by_feature], dtype=np.intp)
        self._offsets = np.cumsum([0] + [len(c) for _, _, c in by_feature[:-1]], dtype=np.intp)
        self._flat = np.concatenate([c for _, _, c in by_feature]) if by_feature else np.zeros(0)
        self._starts = np.flatnonzero(np.r_[True, features[1:] != features[:-1]]) if len(features) else features
        self._features = features[self._starts]

    @classmethod
    def of(cls, model: CatBoostClassifier) -> ShapTable | None:
        """The table of a fitted model; None for a model it does not read (non-symmetric trees, several
        dimensions, text or embedding features): CatBoost computes those itself."""
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "model.json"
            try:
                model.save_model(str(path), format="json")
            except CatBoostError:  # a model the JSON export does not take
                return None
            spec = json.loads(path.read_text())
        return _table(spec, len(model.feature_names_))

    def values(self, leaves: np.ndarray) -> np.ndarray:
        """SHAP values for rows given their leaf in every tree (CatBoost's `calc_leaf_indexes`, rows x trees):
        rows x (features + 1), the last column the expected value, as CatBoost returns them."""
        by_tree = np.ascontiguousarray(leaves.T, dtype=np.intp)  # a tree's leaves for all rows, contiguous
        out = np.zeros((self.n_features + 1, len(leaves)))
        if len(leaves) <= _FEW and len(self._flat):
            # One gather of every entry at once (entries x rows), summed per feature: ~0.1 ms for a row, where
            # a pass per entry costs its Python overhead ~2,000 times.
            picked = np.take(self._flat, by_tree[self._trees] + self._offsets[:, None])
            out[self._features] = np.add.reduceat(picked, self._starts, axis=0)
        else:  # a pass per entry: at 50,000 rows 3x faster than the one gather above
            for tree, feature, by_leaf in self.entries:
                out[feature] += np.take(by_leaf, by_tree[tree])
        out[self.n_features] = self.expected
        return out.T


def _players(spec: dict[str, Any]) -> list[tuple[int, ...]] | None:
    """For every binary split CatBoost numbers (`split_index`), the flat features it is about: floats' borders,
    one-hot values, then each CTR's borders, in the order the model lists them."""
    info = spec["features_info"]
    if info.get("text_features") or info.get("embedding_features") or info.get("estimated_features"):
        return None
    cat_flat = {c["feature_index"]: c["flat_feature_index"] for c in info.get("categorical_features", [])}
    players: list[tuple[int, ...]] = []
    for f in info.get("float_features", []):
        players += [(f["flat_feature_index"],)] * len(f.get("borders") or [])
    for c in info.get("categorical_features", []):
        players += [(c["flat_feature_index"],)] * len(c.get("values") or [])
    for ctr in info.get("ctrs", []):
        # A combination counts for the categorical features whose values it hashes, not for the float or one-hot
        # splits in it, as CatBoost counts it.
        elements = ctr["elements"]
        cats = tuple(
            sorted(
                cat_flat[e["cat_feature_index"]] for e in elements if e["combination_element"] == "cat_feature_value"
            )
        )
        if not cats:
            return None
        players += [cats] * len(ctr.get("borders") or [])
    return players


def _table(spec: dict[str, Any], n_features: int) -> ShapTable | None:
    trees = spec.get("oblivious_trees")
    players = _players(spec) if trees is not None else None
    if trees is None or players is None:
        return None
    info = spec["features_info"]
    float_flat = {f["feature_index"]: f["flat_feature_index"] for f in info.get("float_features", [])}
    cat_flat = {c["feature_index"]: c["flat_feature_index"] for c in info.get("categorical_features", [])}
    by_depth: dict[int, list[int]] = {}
    for t, tree in enumerate(trees):
        splits = tree.get("splits") or []
        if len(tree["leaf_values"]) != 1 << len(splits):
            return None  # more than one dimension
        for s in splits:
            if s["split_type"] not in _SPLITS or not 0 <= s["split_index"] < len(players):
                return None
            own = {
                "FloatFeature": float_flat.get(s.get("float_feature_index", -1)),
                "OneHotFeature": cat_flat.get(s.get("cat_feature_index", -1)),
            }.get(s["split_type"])
            if s["split_type"] != "OnlineCtr" and players[s["split_index"]] != (own,):
                return None  # the numbering is not the one read above: leave it to CatBoost
        by_depth.setdefault(len(splits), []).append(t)
    contributions: dict[tuple[int, int], np.ndarray] = {}
    expected = 0.0
    for depth, ids in sorted(by_depth.items()):
        for start in range(0, len(ids), _BLOCK):
            block = ids[start : start + _BLOCK]
            values = np.array([trees[t]["leaf_values"] for t in block], float)
            weights = np.array([trees[t]["leaf_weights"] for t in block], float)
            expected += float(((values * weights).sum(1) / weights.sum(1)).sum())
            if depth == 0:
                continue
            owners = [_owners([players[s["split_index"]] for s in trees[t]["splits"]]) for t in block]
            slot_masks = np.array([[mask for _, mask in o] + [0] * (depth - len(o)) for o in owners])
            phi = _shapley(values, weights, slot_masks, depth)
            for row, t in enumerate(block):
                for slot, (player, _) in enumerate(owners[row]):
                    for feature in player:  # a combination's share, split equally
                        key = (t, feature)
                        share = phi[row, :, slot] / len(player)
                        contributions[key] = contributions[key] + share if key in contributions else share
    return ShapTable(n_features, [(t, f, c) for (t, f), c in sorted(contributions.items())], expected)


def _owners(split_players: list[tuple[int, ...]]) -> list[tuple[tuple[int, ...], int]]:
    """A tree's players (its distinct features) with the splits (bit mask over split positions) each owns."""
    masks: dict[tuple[int, ...], int] = {}
    for bit, player in enumerate(split_players):
        masks[player] = masks.get(player, 0) | 1 << bit
    return list(masks.items())


def _shapley(values: np.ndarray, weights: np.ndarray, slot_masks: np.ndarray, depth: int) -> np.ndarray:
    """Shapley values by leaf for a block of trees of one depth: trees x leaves x player slots.

    A subset of splits M fixes the row's side at those splits; elsewhere the expectation follows the training
    weight, from the root (the last split, the leaf index's high bit) down. A tree with fewer players than
    `depth` has empty slots (no splits): null players, which change no one's value."""
    n_trees, n_leaves = values.shape
    leaf = np.arange(n_leaves)
    # ratio[:, i, l]: the share of its parent's weight in the node that leaf l's path enters at split i
    ratio = np.empty((n_trees, depth, n_leaves))
    for i in range(depth):
        child = weights.reshape(n_trees, -1, 1 << i).sum(2)[:, leaf >> i]
        parent = weights.reshape(n_trees, -1, 2 << i).sum(2)[:, leaf >> (i + 1)]
        ratio[:, i] = np.divide(child, parent, out=np.zeros_like(child), where=parent > 0)
    # expectation[M]: for every leaf l, E[tree | the row agrees with l at the splits in M]
    expectation = np.empty((1 << depth, n_trees, n_leaves))
    cube = (n_trees,) + (2,) * depth  # axis 1 + k is split depth - 1 - k (C order: the high bit first)
    for m in range(1 << depth):
        free = [i for i in range(depth) if not m >> i & 1]
        path = values * np.prod(ratio[:, free], axis=1) if free else values
        summed = path.reshape(cube).sum(axis=tuple(depth - i for i in free), keepdims=True)
        expectation[m] = np.broadcast_to(summed, cube).reshape(n_trees, n_leaves)
    subsets = np.arange(1 << depth)
    masks = np.zeros((n_trees, 1 << depth), dtype=np.int64)
    for p in range(depth):
        masks[:, subsets >> p & 1 == 1] |= slot_masks[:, p : p + 1]
    by_subset = expectation[masks, np.arange(n_trees)[:, None]]  # trees x subsets x leaves
    size = np.array([bin(s).count("1") for s in subsets])
    weight = np.array([factorial(k) * factorial(depth - k - 1) / factorial(depth) for k in range(depth)])
    phi = np.empty((n_trees, n_leaves, depth))
    for p in range(depth):
        without = subsets[subsets >> p & 1 == 0]
        gain = by_subset[:, without | 1 << p] - by_subset[:, without]
        phi[:, :, p] = np.einsum("tsl,s->tl", gain, weight[size[without]])
    return phi
