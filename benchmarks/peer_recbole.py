"""RecBole 1.2.1's SASRec on MovieLens-100K, as the speed peer (run inside a RecBole environment).

    PYTHON benchmarks/peer_recbole.py [--epochs N]

Prints one line ``RESULT {json}``: wall time to convergence (training and validation, until
RecBole's own early stopping or the epoch limit), epochs run, and the test NDCG@10 / HIT@10 of
full ranking (leave-one-out, history items excluded). This file imports RecBole only: pprlib
never depends on it.
"""

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # RecBole reloads its own checkpoint


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=200)
    args = parser.parse_args()
    import recbole
    from recbole.quick_start import run_recbole

    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # RecBole writes log/ and log_tensorboard/ into the working directory
        config = {
            "data_path": os.path.join(os.path.dirname(recbole.__file__), "dataset_example"),
            "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
            "MAX_ITEM_LIST_LENGTH": 50, "n_layers": 1, "n_heads": 1, "hidden_size": 64, "inner_size": 64,
            "loss_type": "CE", "train_neg_sample_args": None, "train_batch_size": 256, "eval_batch_size": 4096,
            "epochs": args.epochs, "stopping_step": 10,
            "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full", "group_by": "user"},
            "metrics": ["NDCG", "Hit"], "topk": [10], "valid_metric": "NDCG@10",
            "seed": 0, "reproducibility": True, "show_progress": False, "use_gpu": False,
            "checkpoint_dir": tmp, "log_wandb": False, "state": "WARNING",
        }
        start = time.perf_counter()
        result = run_recbole(model="SASRec", dataset="ml-100k", config_dict=config)
        seconds = time.perf_counter() - start
    test = {k.lower(): float(v) for k, v in result["test_result"].items()}
    print("RESULT " + json.dumps({"seconds": seconds, "ndcg10": test["ndcg@10"], "hit10": test["hit@10"],
                                  "best_valid_ndcg10": float(result["best_valid_score"]), "epoch_limit": args.epochs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
