"""``tools/test.py`` evaluates a checkpoint of the whole model: refuse one that
does not fill it (a backbone-only ImageNet file, another config's model)
instead of evaluating random weights after a page of key warnings."""
from __future__ import annotations

from typing import Mapping

from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper

from ...checkpoint import CheckpointMismatchError, state_dict_fit, state_dict_of
from ...checkpoint.loading import output_norm_hint
from ...checkpoint.whole_model import BACKBONE, groups
from ...errors import TRAINED


def _bare_model(model):
    """The model the weights go into (mmengine loads through DDP and
    test-time-augmentation wrappers the same way)."""
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


class CheckpointFitsModelHook(Hook):
    """Raise :class:`CheckpointMismatchError` when the checkpoint being
    loaded leaves tensors of the model unfilled or has other shapes."""

    priority = 'VERY_HIGH'

    def __init__(self, path: str, config: str) -> None:
        self.path, self.config = path, config

    def after_load_checkpoint(self, runner, checkpoint) -> None:
        expected = _bare_model(runner.model).state_dict()
        weights = state_dict_of(checkpoint) if isinstance(checkpoint, Mapping) else {}
        fit = state_dict_fit(expected, weights)
        missing, other = fit.missing, fit.mismatched
        if not missing and not other:
            return
        fix = f'evaluate {TRAINED} for this config'
        if len(missing) == len(expected) and any(f'backbone.{k}' in expected for k in weights):
            raise CheckpointMismatchError(
                f'checkpoint {self.path} holds backbone weights only ({len(weights)} tensors, '
                f'e.g. an ImageNet file), not a whole model of {self.config}: {fix}; backbone '
                'files are for training, through model.backbone.init_cfg')
        found = []
        if missing:
            found.append(f'{len(missing)} of the model\'s {len(expected)} tensors are not in '
                         f'it: {groups(missing)}')
        if other:
            found.append(f'{len(other)} have other shapes, e.g. {"; ".join(other[:2])}')
        norms = output_norm_hint(*([k[len(BACKBONE):] for k in keys if k.startswith(BACKBONE)]
                                   for keys in (expected, weights)))
        raise CheckpointMismatchError(
            f'checkpoint {self.path} does not fit the model of {self.config}: '
            f'{"; ".join(found)}{norms}. To fix: {fix}')
