"""DistributedDataParallel on CPU: torchrun, the gloo backend, two processes, the tiny pack.

Each worker runs train_run exactly as the train stage does (same Runtime on every rank) and
reports what it did: the epoch orders it trained on, its final weights, and whether it wrote the
model, the metrics, the dvclive logs or a checkpoint. Skipped only when torchrun cannot start
workers at all (no torchrun, no local rendezvous); any failure after that fails the test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from train_fixtures import write_pack, write_split

REPO = Path(__file__).resolve().parents[1]
TORCHRUN = Path(sys.executable).with_name("torchrun")

WORKER = """
import json
import os
import sys
from pathlib import Path

root, arch, mode = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
rank = int(os.environ["RANK"])
(root / f"started-{rank}").write_text("")

import torch

import avatar_type.runner
from avatar_type.train import checkpoint, loop, output
from avatar_type.train.config import TrainConfig

report = {"orders": [], "saved_model": 0, "wrote_metrics": 0, "logger_enabled": [],
          "checkpoints": 0, "world": int(os.environ["WORLD_SIZE"])}

order = loop._epoch_order
def spy_order(cfg, batches, gen, dist):
    picked = order(cfg, batches, gen, dist)
    report["orders"].append(picked.tolist())
    return picked
loop._epoch_order = spy_order

fit = loop._fit
def spy_fit(net, cfg, rt, train, val, trainable, dist, *rest, **kw):
    state = fit(net, cfg, rt, train, val, trainable, dist, *rest, **kw)
    torch.save(trainable.state_dict(), root / f"final-{mode}-{rank}.pt")
    return state
loop._fit = spy_fit

save_model = loop.save_model
def spy_save(*a, **k):
    report["saved_model"] += 1
    return save_model(*a, **k)
loop.save_model = spy_save

write_json = avatar_type.runner.write_json
def spy_write(*a, **k):
    report["wrote_metrics"] += 1
    return write_json(*a, **k)
avatar_type.runner.write_json = spy_write

class SpyLogger(output.EpochLogger):
    def __init__(self, directory, epochs_done, enabled=True):
        report["logger_enabled"].append(enabled)
        super().__init__(directory, epochs_done, enabled)
loop.EpochLogger = SpyLogger

save_ckpt = checkpoint.Checkpointer.save
def spy_ckpt(self, *a):
    report["checkpoints"] += int(self.enabled)
    return save_ckpt(self, *a)
checkpoint.Checkpointer.save = spy_ckpt

cfg = TrainConfig(arch=arch, mode=mode, img_size=32, epochs=2, batch_size=16, lr=0.003)
out = root / "run"
rt = loop.Runtime(device=torch.device("cpu"), amp=False, channels_last=False,
                  model_dir=out / "model", metrics_file=out / "metrics.json",
                  live_dir=out / "live", checkpoint_dir=root / "checkpoints", seed=42)
report["summary"] = loop.train_run(cfg, "tiny", "tiny", root / "pack", root / "split.csv", rt)
(root / f"done-{rank}.json").write_text(json.dumps(report))
"""


def _torchrun(root: Path, arch: str, mode: str) -> dict:
    if not TORCHRUN.is_file() and shutil.which("torchrun") is None:
        pytest.skip("torchrun is not installed")
    root.mkdir(parents=True, exist_ok=True)
    _, index = write_pack(root / "pack")
    write_split(index, root / "split.csv")
    (root / "worker.py").write_text(WORKER, encoding="utf-8")
    env = {
        **os.environ,
        "AVATAR_TYPE_LOCAL_CACHE": str(root / "local-cache"),
        "PYTHONPATH": str(REPO / "src"),
        "OMP_NUM_THREADS": "1",
        "DVC_NO_ANALYTICS": "1",
        "DO_NOT_TRACK": "1",
    }
    command = [
        str(TORCHRUN if TORCHRUN.is_file() else shutil.which("torchrun")),
        "--standalone",
        "--nproc_per_node",
        "2",
        str(root / "worker.py"),
        str(root),
        arch,
        mode,
    ]
    try:
        proc = subprocess.run(
            command, cwd=root, env=env, capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired as exc:
        if not list(root.glob("started-*")):
            pytest.skip(f"torchrun started no worker in 120 s: {exc}")
        raise AssertionError(f"DDP run hung:\n{(exc.stderr or b'')[-3000:]!r}") from exc
    log = (proc.stdout + proc.stderr)[-4000:]
    if not list(root.glob("started-*")):
        pytest.skip(f"torchrun could not start workers (rc {proc.returncode}):\n{log}")
    assert proc.returncode == 0, log
    reports = {}
    for rank in (0, 1):
        done = root / f"done-{rank}.json"
        assert done.is_file(), f"rank {rank} did not finish:\n{log}"
        reports[rank] = json.loads(done.read_text(encoding="utf-8"))
    return {"root": root, "reports": reports, "log": log, "mode": mode}


@pytest.fixture(scope="module")
def ddp_full(tmp_path_factory) -> dict:
    return _torchrun(tmp_path_factory.mktemp("ddp-full"), "detector_cnn", "full")


def test_both_ranks_finish_and_only_rank0_writes(ddp_full):
    reports, root = ddp_full["reports"], ddp_full["root"]
    assert [reports[r]["world"] for r in (0, 1)] == [2, 2]
    assert reports[0]["summary"]["epochs"] == reports[1]["summary"]["epochs"] == 2
    assert reports[0]["summary"]["train_images"] == 63
    assert (reports[0]["saved_model"], reports[1]["saved_model"]) == (1, 0)
    assert (reports[0]["wrote_metrics"], reports[1]["wrote_metrics"]) == (1, 0)
    assert reports[0]["logger_enabled"] == [True] and reports[1]["logger_enabled"] == [False]
    assert reports[0]["checkpoints"] == 2 and reports[1]["checkpoints"] == 0
    run = root / "run"
    assert (run / "model" / "model.safetensors").is_file()
    assert (run / "model" / "card.json").is_file()
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics == reports[0]["summary"]
    assert metrics["best_val_macro_f1"] > 0.5
    assert not (root / "checkpoints").exists()


def test_ranks_train_equal_shards_covering_the_epoch(ddp_full):
    first = [ddp_full["reports"][r]["orders"][0] for r in (0, 1)]
    # 63 images over 2 ranks: padded to 64 like DistributedSampler, so one image is seen twice
    assert len(first[0]) == len(first[1]) == 32
    assert len(set(first[0]) & set(first[1])) == 1
    assert set(first[0]) | set(first[1]) == set(range(63))


def test_ranks_end_with_identical_weights_and_rank0_saved_them(ddp_full):
    root = ddp_full["root"]
    w0 = torch.load(root / "final-full-0.pt", weights_only=True)
    w1 = torch.load(root / "final-full-1.pt", weights_only=True)
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    saved = load_file(str(root / "run" / "model" / "model.safetensors"))
    assert all(torch.equal(saved[k], w0[k]) for k in saved)


def test_every_epoch_is_split_into_equal_disjoint_shards(ddp_full):
    orders = [ddp_full["reports"][r]["orders"] for r in (0, 1)]
    for a, b in zip(*orders, strict=True):
        assert len(a) == len(b)  # else the ranks can run different numbers of steps
        # one shared order per epoch: shards overlap at most by padding, cover all but a remainder
        assert len(set(a) & set(b)) <= 1
        assert len(set(a) | set(b)) >= 62


def test_frozen_mode_heads_are_synchronised_across_ranks(tmp_path_factory):
    run = _torchrun(tmp_path_factory.mktemp("ddp-frozen"), "detector_cnn", "frozen")
    w0 = torch.load(run["root"] / "final-frozen-0.pt", weights_only=True)
    w1 = torch.load(run["root"] / "final-frozen-1.pt", weights_only=True)
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
