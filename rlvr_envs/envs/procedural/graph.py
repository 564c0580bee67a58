"""Graph tasks: a shortest path between two nodes, and the connected components of a graph.

Shortest path: the checker walks the answer on the graph (it must start and end at the right
nodes and use only edges of the graph) and compares its length with the distance the generator
recorded. Connectivity: the answer is a partition of the nodes; the checker verifies that no edge
joins two groups and that every group is connected, so any correct grouping passes.
"""

from __future__ import annotations

import heapq
import random
import re
from dataclasses import dataclass

from ...tasks import Task
from ...verdict import Verdict
from .common import Family, correct, wrong

Adjacency = dict[int, dict[int, int]]
_NODE_LIST = re.compile(r"[\s,;>→\-–\[\]()]+")


@dataclass(frozen=True)
class ShortestPathParams:
    """Difficulty knobs of ``rlvr/GraphShortestPath-v0``."""

    num_nodes: int = 10
    extra_edges: int = 8  # edges added to a random spanning tree
    max_weight: int = 1  # 1: unweighted (path length in edges); more: random weights 1..max
    min_hops: int = 2  # the two nodes are at least this many edges apart

    def validate(self) -> None:
        """Raise ValueError for knob values that cannot make a task."""
        if not 3 <= self.num_nodes <= 200:
            raise ValueError(f"num_nodes must be 3..200, got {self.num_nodes}")
        if not 0 <= self.extra_edges <= self.num_nodes * (self.num_nodes - 1) // 2:
            raise ValueError("extra_edges must be between 0 and the number of node pairs")
        if not 1 <= self.max_weight <= 1000:
            raise ValueError(f"max_weight must be 1..1000, got {self.max_weight}")
        if not 1 <= self.min_hops < self.num_nodes:
            raise ValueError("min_hops must be at least 1 and below num_nodes")


@dataclass(frozen=True)
class ConnectivityParams:
    """Difficulty knobs of ``rlvr/GraphConnectivity-v0``."""

    num_nodes: int = 10
    num_components: int = 3
    extra_edges: int = 4  # edges added inside components beyond their spanning trees

    def validate(self) -> None:
        """Raise ValueError for knob values that cannot make a task."""
        if not 2 <= self.num_nodes <= 200:
            raise ValueError(f"num_nodes must be 2..200, got {self.num_nodes}")
        if not 1 <= self.num_components <= self.num_nodes:
            raise ValueError("num_components must be between 1 and num_nodes")
        if self.extra_edges < 0:
            raise ValueError("extra_edges must be >= 0")


PATH_LEVELS = {
    1: dict(num_nodes=5, extra_edges=2, max_weight=1, min_hops=2),
    2: dict(num_nodes=8, extra_edges=5, max_weight=1, min_hops=2),
    3: dict(num_nodes=10, extra_edges=8, max_weight=9, min_hops=2),
    4: dict(num_nodes=15, extra_edges=14, max_weight=9, min_hops=3),
    5: dict(num_nodes=25, extra_edges=25, max_weight=20, min_hops=4),
}
COMPONENT_LEVELS = {
    1: dict(num_nodes=5, num_components=2, extra_edges=1),
    2: dict(num_nodes=8, num_components=3, extra_edges=2),
    3: dict(num_nodes=12, num_components=3, extra_edges=4),
    4: dict(num_nodes=18, num_components=5, extra_edges=6),
    5: dict(num_nodes=26, num_components=6, extra_edges=10),
}


# --- shared helpers -----------------------------------------------------------------------------


def _random_tree(rng: random.Random, nodes: list[int], adjacency: Adjacency, weight) -> None:
    # Indices from rng.random(): randrange/sample cost several times as much per draw.
    order = sorted(nodes, key=lambda _: rng.random())
    for i in range(1, len(order)):
        a, b = order[i], order[int(rng.random() * i)]
        adjacency[a][b] = adjacency[b][a] = weight()


def _add_edges(
    rng: random.Random, nodes: list[int], adjacency: Adjacency, count: int, weight
) -> None:
    """Up to ``count`` new edges between random pairs of ``nodes`` (fewer when it is full)."""
    size = len(nodes)
    for _ in range(count * 4):
        if count == 0 or size < 2:
            return
        a, b = nodes[int(rng.random() * size)], nodes[int(rng.random() * size)]
        if a != b and b not in adjacency[a]:
            adjacency[a][b] = adjacency[b][a] = weight()
            count -= 1


def hop_counts(adjacency: Adjacency, source: int) -> dict[int, int]:
    """Edges on the fewest-edge path from ``source`` to each node it reaches (BFS)."""
    hops, frontier = {source: 0}, [source]
    while frontier:
        following = []
        for node in frontier:
            for other in adjacency[node]:
                if other not in hops:
                    hops[other] = hops[node] + 1
                    following.append(other)
        frontier = following
    return hops


def edge_list(adjacency: Adjacency) -> list[list[int]]:
    """Each undirected edge once, as ``[a, b, weight]`` with ``a < b``, sorted."""
    return sorted([a, b, w] for a, nbrs in adjacency.items() for b, w in nbrs.items() if a < b)


def adjacency_of(edges: list[list[int]], num_nodes: int) -> Adjacency:
    """The adjacency map of an edge list."""
    adjacency: Adjacency = {v: {} for v in range(num_nodes)}
    for a, b, w in edges:
        adjacency[a][b] = adjacency[b][a] = w
    return adjacency


def dijkstra(adjacency: Adjacency, source: int) -> tuple[dict[int, int], dict[int, int]]:
    """Distances from ``source`` and each reached node's predecessor on a shortest path."""
    dist, parent = {source: 0}, {}
    heap = [(0, source)]
    while heap:
        d, node = heapq.heappop(heap)
        if d > dist[node]:
            continue
        for other, w in adjacency[node].items():
            if d + w < dist.get(other, d + w + 1):
                dist[other], parent[other] = d + w, node
                heapq.heappush(heap, (d + w, other))
    return dist, parent


def parse_nodes(text: str, num_nodes: int) -> list[int] | str:
    """Node numbers separated by spaces, commas or arrows, or why the text is not such a list."""
    nodes = []
    for token in _NODE_LIST.split(text.strip()):
        if not token:
            continue
        # isascii: str.isdigit() also holds for "²" and "①", which int() refuses.
        if not (token.isascii() and token.isdigit() and len(token) <= 6):
            return f"{token[:20]!r} is not a node number"
        if int(token) >= num_nodes:
            return f"there is no node {token}"
        nodes.append(int(token))
    return nodes


# --- shortest path ------------------------------------------------------------------------------


def generate_path(rng: random.Random, p: ShortestPathParams) -> Task:
    """A connected graph and two nodes at least ``min_hops`` edges apart."""
    nodes = list(range(p.num_nodes))
    for _ in range(1000):
        adjacency: Adjacency = {v: {} for v in nodes}

        def weight() -> int:
            return 1 + int(rng.random() * p.max_weight)

        _random_tree(rng, nodes, adjacency, weight)
        _add_edges(rng, nodes, adjacency, p.extra_edges, weight)
        for source in rng.sample(nodes, min(5, len(nodes))):  # a few sources before a new graph
            far = [v for v, h in hop_counts(adjacency, source).items() if h >= p.min_hops]
            if far:
                break
        if far:
            break
    else:
        raise RuntimeError("no pair of nodes is min_hops apart; lower min_hops")
    target = rng.choice(far)
    distance = dijkstra(adjacency, source)[0][target]
    edges = edge_list(adjacency)
    weighted = p.max_weight > 1
    shown = ", ".join(f"{a}-{b} ({w})" if weighted else f"{a}-{b}" for a, b, w in edges)
    length = "total weight" if weighted else "number of edges"
    prompt = (
        f"An undirected graph has nodes 0 to {p.num_nodes - 1} and these edges"
        f"{' (weights in parentheses)' if weighted else ''}: {shown}.\n\n"
        f"Find a shortest path (smallest {length}) from node {source} to node {target}. "
        "Give the path as node numbers separated by spaces, starting with "
        f"{source} and ending with {target}."
    )
    data = {"edges": edges, "num_nodes": p.num_nodes, "source": source, "target": target}
    data["distance"] = distance
    return Task(id="", prompt=prompt, answer=data, metadata={"num_nodes": p.num_nodes})


def check_path(answer: str, task: Task) -> Verdict:
    """Walk the path on the graph and compare its length with the shortest distance."""
    a = task.answer
    path = parse_nodes(answer, a["num_nodes"])
    if isinstance(path, str):
        return wrong(f"not a path: {path}", expected=a["distance"])
    if len(path) > 4 * a["num_nodes"]:
        return wrong(f"a path of {len(path)} nodes is far from shortest", expected=a["distance"])
    if not path or path[0] != a["source"] or path[-1] != a["target"]:
        return wrong(
            f"the path must run from {a['source']} to {a['target']}", expected=a["distance"]
        )
    adjacency = adjacency_of(a["edges"], a["num_nodes"])
    length = 0
    for u, v in zip(path, path[1:]):
        if v not in adjacency[u]:
            return wrong(f"{u}-{v} is not an edge", expected=a["distance"])
        length += adjacency[u][v]
    if length != a["distance"]:
        return wrong(
            f"the path has length {length}; the shortest has {a['distance']}",
            expected=a["distance"],
        )
    return correct("a shortest path", expected=a["distance"])


def solve_path(task: Task) -> str:
    """A shortest path from Dijkstra's predecessors."""
    a = task.answer
    _, parent = dijkstra(adjacency_of(a["edges"], a["num_nodes"]), a["source"])
    path = [a["target"]]
    while path[-1] != a["source"]:
        path.append(parent[path[-1]])
    return " ".join(map(str, reversed(path)))


def perturb_path(task: Task, answer: str, rng: random.Random) -> list[str]:
    """Wrong by construction: reversed, cut short, a non-edge hop, a detour."""
    a = task.answer
    path = answer.split()
    adjacency = adjacency_of(a["edges"], a["num_nodes"])
    wrongs = [" ".join(reversed(path)), " ".join(path[:-1])]
    jump = [
        v for v in range(a["num_nodes"]) if v not in adjacency[int(path[0])] and v != int(path[0])
    ]
    if jump:
        wrongs.append(" ".join([path[0], str(rng.choice(jump)), *path[1:]]))
    back = path[0]
    wrongs.append(" ".join([path[0], path[1], back, *path[1:]]))  # there and back: longer
    return wrongs


# --- connected components -----------------------------------------------------------------------


def generate_components(rng: random.Random, p: ConnectivityParams) -> Task:
    """Nodes split at random into components, each a random tree plus extra inner edges."""
    nodes = rng.sample(range(p.num_nodes), p.num_nodes)
    cuts = sorted(rng.sample(range(1, p.num_nodes), p.num_components - 1))
    groups = [nodes[i:j] for i, j in zip([0, *cuts], [*cuts, p.num_nodes])]
    adjacency: Adjacency = {v: {} for v in range(p.num_nodes)}
    for group in groups:
        _random_tree(rng, group, adjacency, lambda: 1)
    for _ in range(p.extra_edges):
        _add_edges(rng, rng.choice(groups), adjacency, 1, lambda: 1)
    edges = edge_list(adjacency)
    shown = ", ".join(f"{a}-{b}" for a, b, _ in edges) or "(none)"
    prompt = (
        f"An undirected graph has nodes 0 to {p.num_nodes - 1} and these edges: {shown}.\n\n"
        "Group the nodes into connected components. Write each component on its own line, as "
        "its node numbers separated by spaces; every node must appear exactly once."
    )
    data = {"edges": edges, "num_nodes": p.num_nodes}
    return Task(id="", prompt=prompt, answer=data, metadata={"num_nodes": p.num_nodes})


def check_components(answer: str, task: Task) -> Verdict:
    """A partition with no edge between groups and every group connected inside."""
    n = task.answer["num_nodes"]
    group_of: dict[int, int] = {}
    groups: list[list[int]] = []
    for line in answer.splitlines():
        members = parse_nodes(line, n)
        if isinstance(members, str):
            return wrong(f"not a list of components: {members}")
        if not members:
            continue
        for node in members:
            if node in group_of:
                return wrong(f"node {node} appears more than once")
            group_of[node] = len(groups)
        groups.append(members)
    if len(group_of) != n:
        missing = sorted(set(range(n)) - set(group_of))[:5]
        return wrong(f"nodes missing from the answer: {missing}")
    adjacency = adjacency_of(task.answer["edges"], n)
    for a, b, _ in task.answer["edges"]:
        if group_of[a] != group_of[b]:
            return wrong(f"nodes {a} and {b} are joined by an edge but put in different groups")
    for members in groups:
        inside = set(members)
        seen, frontier = {members[0]}, [members[0]]
        while frontier:
            for other in adjacency[frontier.pop()]:
                if other in inside and other not in seen:
                    seen.add(other)
                    frontier.append(other)
        if len(seen) != len(inside):
            return wrong(f"the group {sorted(inside)[:8]} is not connected")
    return correct(f"the {len(groups)} connected components")


def solve_components(task: Task) -> str:
    """The components by union-find."""
    n = task.answer["num_nodes"]
    parent = list(range(n))

    def root(v: int) -> int:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for a, b, _ in task.answer["edges"]:
        parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for v in range(n):
        groups.setdefault(root(v), []).append(v)
    return "\n".join(" ".join(map(str, g)) for g in groups.values())


def perturb_components(task: Task, answer: str, rng: random.Random) -> list[str]:
    """Wrong by construction: two components merged, one split, a node dropped, one repeated."""
    lines = answer.splitlines()
    dropped = [*lines[:-1], " ".join(lines[-1].split()[:-1])]
    wrongs = ["\n".join(line for line in dropped if line)]
    wrongs.append(f"{answer}\n{lines[0].split()[0]}")
    if len(lines) > 1:
        wrongs.append("\n".join([f"{lines[0]} {lines[1]}", *lines[2:]]))
    big = next((line.split() for line in lines if len(line.split()) > 1), None)
    if big is not None:
        rest = [line for line in lines if line.split() != big]
        wrongs.append("\n".join([big[0], " ".join(big[1:]), *rest]))
    return wrongs


SHORTEST_PATH = Family(
    "graph_shortest_path", ShortestPathParams, PATH_LEVELS, 3,
    generate_path, check_path, solve_path, perturb_path,
)  # fmt: skip
CONNECTIVITY = Family(
    "graph_connectivity", ConnectivityParams, COMPONENT_LEVELS, 3,
    generate_components, check_components, solve_components, perturb_components,
)  # fmt: skip
