"""Weights in a family's official ImageNet key layout, for the tests: a model
of ours with random weights, written back in the official names by the
family's ``checkpoint_format.to_official`` (the converter's inverse), with
the classifier an official file holds."""
import torch


def randomize_(model, seed: int = 0, offset_px: float = 1.5):
    """Random parameters and batch-norm statistics everywhere, so nothing is
    trivial: deformable offsets of about ``offset_px`` pixels (so taps land
    between pixels and outside the map), running variances away from 1."""
    g = torch.Generator().manual_seed(seed)

    def randn(shape):
        return torch.randn(shape, generator=g)

    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim > 1:  # unit-variance outputs for unit-variance inputs
                scale = (offset_px if 'conv_offset' in name else 1.0) / p[0].numel() ** 0.5
                p.copy_(randn(p.shape) * scale)
            elif name.endswith('weight'):  # norms
                p.copy_(1 + 0.2 * randn(p.shape))
            else:
                p.copy_((offset_px if 'conv_offset' in name else 0.2) * randn(p.shape))
        for name, b in model.named_buffers():
            if name.endswith('running_mean'):
                b.copy_(0.1 * randn(b.shape))
            elif name.endswith('running_var'):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)
            elif name.endswith('num_batches_tracked'):
                b.fill_(1000)
    return model


def official_state_dict(model, num_classes: int = 1000, seed: int = 0):
    """The model's backbone weights in its family's official layout, plus the
    classifier an ImageNet file has (``norm.*``, ``head.*``); the output norms
    ``norm{i}`` are not in official files."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    out = type(model).checkpoint_format.to_official(state)
    g = torch.Generator().manual_seed(seed)
    width = model.num_features[-1]
    out['norm.weight'] = torch.randn(width, generator=g)
    out['norm.bias'] = torch.randn(width, generator=g)
    out['head.weight'] = torch.randn(num_classes, width, generator=g)
    out['head.bias'] = torch.randn(num_classes, generator=g)
    return out


def save_official_file(model, path, **kwargs):
    """``{'model': state_dict}`` as the official training script saves it."""
    state = official_state_dict(model, **kwargs)
    torch.save({'model': state, 'epoch': 300, 'max_accuracy': 82.0}, path)
    return state
