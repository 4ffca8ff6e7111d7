"""A least-squares task for the training loop's tests, run as a script (under torchrun for the
multi-process test): each rank fits its share of 8 fixed rows, so N ranks averaging their
gradients must end where one process fitting all 8 rows ends.

    python tests/loop_toy_task.py OUT [steps]
"""
import sys
from dataclasses import asdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.files import write_weights_and_config  # noqa: E402
from training.train import loop  # noqa: E402


class LeastSquares(loop.Task):
    name, best_metric, best_mode = "toy", "mse", "min"

    def __init__(self, rt: loop.Runtime):
        g = torch.Generator().manual_seed(0)
        self.x, w = torch.randn(8, 3, generator=g), torch.tensor([[1.0], [-2.0], [0.5]])
        self.y = self.x @ w + 0.3
        rows = torch.arange(8)[rt.rank::rt.world]             # this rank's equal share
        self.xr, self.yr = self.x[rows], self.y[rows]
        self.model = torch.nn.Linear(3, 1)

    def batches(self, seed):
        while True:
            yield self.xr, self.yr

    def loss(self, batch):
        x, y = batch
        err = ((self.model(x) - y) ** 2).mean()
        return err, {"mse": err}

    def validate(self):
        with torch.no_grad():
            return {"mse": float(((self.model(self.x) - self.y) ** 2).mean())}

    def save(self, stem, fp16, meta):
        from safetensors.torch import save_file
        sd = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        write_weights_and_config(stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json"),
                                 lambda f: save_file(sd, f), meta)


def main(out, steps=20):
    rt = loop.runtime("cpu")
    cfg = loop.LoopConfig(steps=steps, lr=0.2, warmup=2, val_every=10, log_every=1, weight_decay=0.01)
    loop.seed_everything(cfg.seed)
    task = LeastSquares(rt)
    final = loop.fit(task, cfg, out, rt, run_info={"toy": True}, progress=False)
    rt.close()
    return final, asdict(cfg)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 20)
