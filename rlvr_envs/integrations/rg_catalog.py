"""The catalogue of reasoning-gym generators: which are registered, which are not and why.

Plain data, so that registering the ``rlvr/rg-*`` ids does not import reasoning-gym (seconds).
A test compares :data:`GENERATORS` with the installed package's own list.
"""

from __future__ import annotations

RG_VERSION = "0.1.25"  # the version whose generators the -v0 ids (and the golden tasks) pin

# Every generator of reasoning-gym 0.1.25, in its own order of names.
GENERATORS: tuple[str, ...] = tuple(
    """ab acre advanced_geometry aiw arc_1d arc_agi base_conversion basic_arithmetic bf
    binary_alternation binary_matrix bitwise_arithmetic boxnet caesar_cipher calendar_arithmetic
    chain_sum circuit_logic codeio coin_flip color_cube_rotation complex_arithmetic composite
    count_bits count_primes countdown course_schedule cryptarithm decimal_arithmetic
    decimal_chain_sum dice emoji_mystery family_relationships figlet_font fraction_simplification
    futoshiki game_of_life game_of_life_halting gcd graph_color group_anagrams gsm_symbolic
    intermediate_integration isomorphic_strings jugs kakurasu knight_swap knights_knaves
    largest_island lcm leg_counting letter_counting letter_jumble list_functions mahjong_puzzle
    manipulate_matrix maze mini_sudoku modulo_grid n_queens needle_haystack number_filtering
    number_format number_sequence number_sorting palindrome_generation palindrome_partitioning
    path_star polynomial_equations polynomial_multiplication pool_matrix power_function
    prime_factorization products propositional_logic puzzle24 quantum_lock ransom_note rearc
    rectangle_count rotate_matrix rotten_oranges rubiks_cube rush_hour self_reference
    sentence_reordering shortest_path simple_equations simple_geometry simple_integration sokoban
    spell_backward spiral_matrix string_insertion string_manipulation string_splitting
    string_synthesis sudoku survo syllogism time_intervals tower_of_hanoi tsumego word_ladder
    word_sequence_reversal word_sorting zebra_puzzles""".split()
)

# Generators that are not registered, and why.
UNAVAILABLE: dict[str, str] = {
    "codeio": "its generator exec()s a code sample from its data for every item, and some "
    "samples write files (file_N.txt, categories.txt, CSVs) into the working directory and "
    "print to stdout",
    "composite": "not a generator but a mixture of other generators; it needs a 'datasets' "
    "config and has no default",
    "game_of_life_halting": "score_answer compares bool(answer) == bool(expected answer), so "
    "every non-empty answer (even 'False' for 'True') scores 1.0",
    "intermediate_integration": "about one reference answer in ten is an unevaluated sympy "
    "Integral(...), i.e. the question restated, which the scorer then accepts",
    "propositional_logic": "copying the first premise from the question scores 1.0 on 59 of "
    "100 tasks: the premises are often inconsistent, and then every formula follows",
}

# Same index, different task in another process (found by generating items under two values of
# PYTHONHASHSEED): a task id could not be rebuilt, nor a GRPO group share its task, across
# processes.
_HASH_SEEDED = (
    "its items change with Python's hash seed (PYTHONHASHSEED, e.g. through the iteration order "
    "of a set): the same seed gives a different task in another process"
)
UNAVAILABLE.update(
    dict.fromkeys(
        ["isomorphic_strings", "knight_swap", "list_functions", "polynomial_multiplication",
         "ransom_note", "word_ladder"],
        _HASH_SEEDED,
    )
)  # fmt: skip

REGISTERED: tuple[str, ...] = tuple(g for g in GENERATORS if g not in UNAVAILABLE)


def env_id(name: str) -> str:
    """The registered id of a generator."""
    return f"rlvr/rg-{name}-v0"
