"""The seed study's own speed and size figures, kept as reported for comparison.

Source: block 21 ("Real Data Inference Speed and Efficiency Benchmark") of
``seeds/avatar-type-recognition.md`` (identical in ``seeds/avatar-type-recognition-blocks.md``):
the average time per image over 1339 test images on CPU and on GPU. The study names neither the
CPU nor the GPU (it says only that its notebooks run in Google Colab, on CPU or GPU), nor the
batch size or thread count: the hardware is unknown. Block 21 reports no FLOPs and no
throughput. Per the seeds' README, the study's ViT/ConvNeXt speed figures were taken without
warm-up or CUDA synchronisation (so first-call costs and unfinished GPU work skew them);
:mod:`avatar_type.bench.measure` excludes warm-up calls and synchronises before reading the
clock. The two sets of figures are not directly comparable.
"""

from __future__ import annotations

# Columns as the study reports them: params in millions, weight file in MB, seconds per image.
# Its "MB" are MiB (2**20 bytes): ResNet-50 with a 3-class head holds 94.3e6 bytes = 89.9 MiB,
# where the benchmark stage's weights_mb (1e6 bytes) reads 94.3.
STUDY_BENCHMARK: list[dict[str, str | float]] = [
    {
        "model": name,
        "params_m": p,
        "weights_mb": mb,
        "cpu_s_per_img": cpu,
        "gpu_s_per_img": gpu,
        "hardware": "not stated",
    }
    for name, p, mb, cpu, gpu in [
        ("MobileNetV3", 1.52, 5.9, 0.0097, 0.0056),
        ("ResNet18 FewShot12ep", 11.18, 42.7, 0.0675, 0.0035),
        ("ResNet50", 23.51, 90.0, 0.1165, 0.0087),
        ("EfficientNet-B0", 4.01, 15.6, 0.0387, 0.0076),
        ("ConvNeXt-Tiny Stage2", 27.82, 106.2, 0.1295, 0.0071),
    ]
]
