"""Architecture search over cells: operators on topologies, outer searches, nested weight
searches.

The topology space's operators (canonical keys, sampling, mutation, crossover) live in
their own modules here; the outer algorithms and the nested search build on them.
"""
