# The C assigner (split.c), built beside the mypyc modules; see shards.ShardAssigner.

class Splitter:
    pos: int
    undecided: bool
    corrupt_at: int
    corrupt_length: int
    def __init__(self, shards: int, max_flows: int) -> None: ...
    def shard_at(self, buf: bytes, start: int, end: int) -> int: ...
    def take(
        self, buf: bytearray | bytes, size: int, little: bool, scale: float, index: int
    ) -> list[tuple[float, bytes, int]]: ...
    def take_blocks(
        self,
        buf: bytes,
        pos: int,
        size: int,
        little: bool,
        ethernet: bytes,
        units: bytes,
        index: int,
    ) -> list[tuple[float, bytes, int]]: ...
    def known(self, proto: int, key: bytes) -> int: ...
    def remember(self, proto: int, key: bytes, shard: int) -> None: ...
    def __len__(self) -> int: ...
