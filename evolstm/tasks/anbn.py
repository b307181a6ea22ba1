"""aⁿbⁿ: the context-free counting language S aⁿ bⁿ T (Gers & Schmidhuber 2001)."""

from __future__ import annotations

from evolstm.tasks.languages import LanguageTask


class AnBn(LanguageTask):
    """Predict the legal next symbols of S aⁿ bⁿ T; test: largest N with all n <= N accepted."""

    name = "anbn"
    letters = "ab"
