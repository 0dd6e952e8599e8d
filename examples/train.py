"""A small, real training run: logistic regression by gradient descent with numpy, on a
synthetic two-class data set. Records an experiment and a checkpoint per epoch with keepsake.

    python examples/train.py --learning-rate 0.1 --epochs 10
"""

import argparse
import os

import numpy as np

import keepsake


def make_data(n=2000, features=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features))
    true_w = rng.normal(size=features)
    y = (x @ true_w + 0.5 * rng.normal(size=n) > 0).astype(np.float64)
    split = int(n * 0.8)
    return (x[:split], y[:split]), (x[split:], y[split:])


def loss_and_accuracy(w, b, x, y):
    p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
    eps = 1e-12
    loss = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))
    return float(loss), float(np.mean((p > 0.5) == y))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--l2", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    (x_train, y_train), (x_val, y_val) = make_data(seed=args.seed)
    experiment = keepsake.init(
        path=".",
        params={"learning_rate": args.learning_rate, "epochs": args.epochs, "l2": args.l2, "seed": args.seed},
    )
    w = np.zeros(x_train.shape[1])
    b = 0.0
    os.makedirs("checkpoints", exist_ok=True)
    for epoch in range(args.epochs):
        p = 1.0 / (1.0 + np.exp(-(x_train @ w + b)))
        grad_w = x_train.T @ (p - y_train) / len(y_train) + args.l2 * w
        grad_b = float(np.mean(p - y_train))
        w -= args.learning_rate * grad_w
        b -= args.learning_rate * grad_b
        train_loss, train_acc = loss_and_accuracy(w, b, x_train, y_train)
        val_loss, val_acc = loss_and_accuracy(w, b, x_val, y_val)
        np.save("checkpoints/weights.npy", np.append(w, b))
        experiment.checkpoint(
            path="checkpoints/weights.npy",
            step=epoch,
            metrics={"loss": train_loss, "accuracy": train_acc, "val_loss": val_loss, "val_accuracy": val_acc},
            primary_metric=("val_loss", "minimize"),
        )
        print(f"epoch {epoch}: loss {train_loss:.4f} val_loss {val_loss:.4f} val_accuracy {val_acc:.3f}")
    experiment.stop()


if __name__ == "__main__":
    main()
