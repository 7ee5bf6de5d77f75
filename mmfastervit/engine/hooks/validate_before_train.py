"""Training hooks."""
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class ValidateBeforeTrainHook(Hook):
    """Run the validation loop once before the first training iteration, so a
    learning curve starts from the untrained model's metrics. Skipped when a
    run resumes."""

    priority = 'LOWEST'

    def before_train(self, runner) -> None:
        if runner.iter == 0 and runner.epoch == 0 and getattr(runner, 'val_loop', None):
            runner.val_loop.run()
