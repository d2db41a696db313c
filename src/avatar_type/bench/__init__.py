"""Model benchmark: parameters, FLOPs, weight size, latency and throughput on CPU and CUDA."""
