"""aⁿbⁿcⁿ: the context-sensitive language S aⁿ bⁿ cⁿ T (Gers & Schmidhuber 2001)."""

from __future__ import annotations

from evolstm.tasks.languages import LanguageTask


class AnBnCn(LanguageTask):
    """Predict the legal next symbols of S aⁿ bⁿ cⁿ T; test: largest N with all n <= N accepted."""

    name = "anbncn"
    letters = "abc"
