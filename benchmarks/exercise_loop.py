"""The exercise's training loop as written (../shared/seed), for side-by-side benchmarks.

Kept faithful on purpose: a per-row ``Dataset``, a ``DataLoader`` with batch 64 and
shuffling, ``nn.Embedding`` with N(0, 1) init, a sigmoid, MSE, Adam at lr 0.01, 10 epochs, and
the validation loss computed over the held-out split after every epoch.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


class RecommenderNet(torch.nn.Module):
    def __init__(self, num_users: int, num_movies: int, embedding_size: int = 16) -> None:
        super().__init__()
        self.user_embedding = torch.nn.Embedding(num_users, embedding_size)
        self.user_bias = torch.nn.Embedding(num_users, 1)
        self.movie_embedding = torch.nn.Embedding(num_movies, embedding_size)
        self.movie_bias = torch.nn.Embedding(num_movies, 1)
        self.sig = torch.nn.Sigmoid()

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        user_indexes = inputs[:, 0]
        movie_indexes = inputs[:, 1]
        user_vector = self.user_embedding(user_indexes)
        user_bias = self.user_bias(user_indexes).flatten()
        movie_vector = self.movie_embedding(movie_indexes)
        movie_bias = self.movie_bias(movie_indexes).flatten()
        dot = (user_vector * movie_vector).sum(1)
        return self.sig(dot + user_bias + movie_bias)


class MoviesDataset(Dataset):
    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X = torch.IntTensor(X)
        self.y = torch.FloatTensor(y)

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X[idx], self.y[idx]


def run_exercise(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    num_users: int,
    num_movies: int,
    *,
    epochs: int = 10,
    seed: int = 42,
    on_epoch: Callable[[int, float, float, float], None] | None = None,
) -> tuple[RecommenderNet, list[float]]:
    """Train as the exercise did; ``on_epoch(epoch, train_loss, val_loss, seconds_so_far)``.

    The seconds exclude nothing: the exercise's loop included its validation pass.
    """
    torch.manual_seed(seed)
    model = RecommenderNet(num_users, num_movies, 16)
    train_dl = DataLoader(MoviesDataset(x_train, y_train), batch_size=64, shuffle=True)
    validation_dl = DataLoader(MoviesDataset(x_val, y_val), batch_size=64, shuffle=True)
    loss_fn = torch.nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    val_losses = []
    started = time.perf_counter()
    for i in range(epochs):
        model.train(True)
        running_loss = 0.0
        for index, (inputs, labels) in enumerate(train_dl):
            model.zero_grad()
            prediction = model(inputs)
            loss = loss_fn(prediction, labels)
            loss.backward()
            optimizer.step()
            running_loss += float(loss.detach())
        avg_loss = running_loss / (index + 1)
        model.train(False)
        running_vloss = 0.0
        with torch.no_grad():
            for index, (vinputs, vlabels) in enumerate(validation_dl):
                running_vloss += float(loss_fn(model(vinputs), vlabels))
        avg_vloss = running_vloss / (index + 1)
        val_losses.append(avg_vloss)
        if on_epoch is not None:
            on_epoch(i + 1, avg_loss, avg_vloss, time.perf_counter() - started)
    return model, val_losses
