"""Pre-training on several processes (CPUs or GPUs) with DistributedDataParallel.

    torchrun --nproc_per_node 2 -m pprlib.distributed --profile default [--backbone CL4SRec]

Every process reads the same data and draws the same seeded batches; each trains on its shard
of every batch and DistributedDataParallel averages the gradients, so the run follows the
single-process one (not bit for bit: a shard's mean loss weighs its own targets, and random
negatives and augmentations are drawn per process). Validation and early stopping run on every
process with the same weights, so all stop together. Process 0 stores the model under the same
cache key as :func:`pprlib.context.prepare` uses, so the book then finds it.
Backend: ``nccl`` on CUDA, ``gloo`` on CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch
import torch.distributed as dist


def pretrain_main(argv: list[str] | None = None) -> int:
    from pprlib import book
    from pprlib.config import BACKBONES, BookConfig, pretrain_config
    from pprlib.context import book_data
    from pprlib.runs import pretrain, save_pretrained
    from pprlib.train import resolve_device

    parser = argparse.ArgumentParser(prog="torchrun ... -m pprlib.distributed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="default", help="run profile (name or YAML file)")
    parser.add_argument("--backbone", default="SASRec", choices=list(BACKBONES))
    parser.add_argument("--epochs", type=int, default=None, help="override the profile's pretrain_epochs")
    parser.add_argument("--history", default=None, help="write the training history (JSON) here (process 0)")
    parser.add_argument("--no-cache", action="store_true", help="do not store the model in the cache")
    args = parser.parse_args(argv)
    if "RANK" not in os.environ:
        print("error: start this module with torchrun (it sets RANK, WORLD_SIZE and the rendezvous)", file=sys.stderr)
        return 2

    params = book.load_profile(args.profile)
    fields = {k: params[k] for k in ("dataset", "n_users", "n_items", "seed", "pretrain_epochs", "device",
                                     "deterministic") if k in params}
    if args.epochs is not None:
        fields["pretrain_epochs"] = args.epochs
    config = BookConfig(**fields, progress=False)
    device = resolve_device(config.device)
    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local)
        config = BookConfig(**{**fields, "device": f"cuda:{local}"}, progress=False)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        rank = dist.get_rank()
        _, split = book_data(config)
        backbone, seq_cl = BACKBONES[args.backbone]
        pre = pretrain(split, backbone, pretrain_config(config), seq_cl=seq_cl, use_cache=False)
        if rank == 0:
            if not args.no_cache:
                save_pretrained(pre)
            if args.history:
                with open(args.history, "w") as f:
                    json.dump({"world": dist.get_world_size(), "key": pre.key,
                               "history": pre.history.to_dict(orient="list")}, f)
            print(f"pre-trained {args.backbone} on {dist.get_world_size()} process(es): "
                  f"{int(pre.history.epoch.max())} epochs, best validation NDCG@10 "
                  f"{pre.history['val/NDCG@10'].max():.4f}, key {pre.key}")
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(pretrain_main())
