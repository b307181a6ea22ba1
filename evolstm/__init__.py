"""evolstm: neuroevolution and architecture search of LSTM cells.

    cell = evolstm.load("results/run/best.npz"); y = cell.predict(x)
    pop = evolstm.Population("lstm", n_in=1, n_hidden=16, n_out=1)
"""

from evolstm import algorithms, cells, tasks
from evolstm.cells import Population
from evolstm.cells.cell import Cell
from evolstm.cells.cellfile import load, save
from evolstm.errors import EvolstmError
from evolstm.runs import resume, search

__version__ = "0.1.0"

__all__ = [
    "Cell", "EvolstmError", "Population", "algorithms", "cells", "load", "resume", "save",
    "search", "tasks",
]
