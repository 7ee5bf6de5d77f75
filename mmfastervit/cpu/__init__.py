"""The CPU story in one place: what the CPU at hand can do
(:mod:`.features`), which inference path runs on it (:mod:`.dispatch`) and
the fused oneDNN kernels of the fast path (:mod:`.onednn`), bf16 inference
end to end (:mod:`.bf16`), the allocator setting large maps need
(:mod:`.allocator`) and RoIAlign over every thread (:mod:`.roi_align`)."""
from .allocator import keep_freed_memory
from .dispatch import cpu_kernels, get_cpu_kernels, set_cpu_kernels
from .features import CPUFeatures, cpu_features

__all__ = ['CPUFeatures', 'cpu_features', 'cpu_kernels', 'get_cpu_kernels', 'keep_freed_memory',
           'set_cpu_kernels']
