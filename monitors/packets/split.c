/*
 * The file-share assigner's per-frame work in C: `shards.ShardAssigner`'s
 * in-place rule and flow table, and a walk over a classic pcap read buffer
 * that skips the records other processes own.
 *
 * Why C: every process sharing a capture file repeats this part for every
 * frame of the file, so it bounds what N processes can gain (bench/RESULTS.md,
 * "The ceiling of a shared file"). Compiled Python spends ~0.5 us a frame on
 * it, mostly building the flow key as a bytes object to look it up; here the
 * key is hashed where it lies.
 *
 * The bytes are a hostile file's. Every read is of buf[start..end), and the
 * checks that make it so are `fastpath.plain_at`'s, restated below; the
 * Python callers check start, end and size against the buffer before any of
 * this runs (`check_range`). tests/packets/test_file_share.py compares the
 * result with decoding every frame, on hostile and random frames.
 *
 * Built beside the mypyc modules (compiled.py); without a build the Python
 * assigner in shards.py does the same, slower. Fuzzed under ASan and UBSan
 * (session 31: ~9M frames and ~9M record walks, mutated and real captures,
 * buffers ending at an inaccessible page): no report.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86DD
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88A8
#define PROTO_TCP 6
#define PROTO_UDP 17
#define TCP_SYN 0x02
#define TCP_ACK 0x10
#define TCP_MIN_OFFSET (5 << 4)
#define GOLDEN 2654435761u
#define MAX_RECORD (256 << 10) /* capture.py's MAX_RECORD */
#define MAX_BLOCK (16 << 20)   /* capture.py's _MAX_BLOCK */
#define MAX_KEY 36             /* two IPv6 addresses and two ports */
#define NO_SHARD (-1)
#define PREFETCH_AHEAD 2048 /* bytes of the file fetched ahead of the record read */
#define LOOKAHEAD 6 /* frames read ahead of the one assigned (`take`) */
#define TAKE_BATCH 256 /* records `take` lists at most */
#define FILTER_BITS (1u << 20) /* the table's bitmap: 128 KB, within a core's L2 */

typedef struct {
    Py_hash_t hash;
    int32_t shard;
    uint8_t proto;
    uint8_t len; /* 0: an empty slot */
    uint8_t key[MAX_KEY];
} Slot;

typedef struct {
    PyObject_HEAD
    long shards;
    Py_ssize_t max_flows;
    Py_ssize_t count; /* keys the Python dicts would hold: len(_tcp) + len(_udp) */
    Py_ssize_t used;  /* slots used: one a flow */
    size_t mask;      /* slots - 1; slots a power of two */
    Slot *slots;
    /* A bit for each flow in the table, by `filter_bit`: a clear bit means
     * the flow is not there, so most frames need no hash and no probe. */
    uint64_t *filter;
    /* `take`'s place in the read buffer (and `take_blocks`'), and what it found. */
    Py_ssize_t pos;
    char undecided; /* T_BOOL */
    Py_ssize_t corrupt_at;
    unsigned long corrupt_length;
} Splitter;

static int is_dhcp_server_port(unsigned port) { return port == 67 || port == 547; }

/* `fastpath.plain_at`: the transport protocol of a plain TCP/UDP frame
 * buf[start..end), and where its wire key and ports start; 0 for any other. */
static int plain_at(const uint8_t *buf, Py_ssize_t start, Py_ssize_t end, Py_ssize_t *wire,
                    Py_ssize_t *ports) {
    Py_ssize_t size = end - start;
    if (size < 47)
        return 0;
    Py_ssize_t ip = start + 14;
    unsigned ethertype = (unsigned)buf[start + 12] << 8 | buf[start + 13];
    if (ethertype == ETH_VLAN) {
        if (size < 51)
            return 0;
        ip += 4;
        ethertype = (unsigned)buf[start + 16] << 8 | buf[start + 17];
    }
    Py_ssize_t room;
    int proto;
    if (ethertype == ETH_IPV4) {
        if (buf[ip] != 0x45 || ((buf[ip + 6] & 0x1F) | buf[ip + 7]))
            return 0; /* options, or a later fragment */
        Py_ssize_t total = (Py_ssize_t)buf[ip + 2] << 8 | buf[ip + 3];
        room = (end - ip < total ? end - ip : total) - 20;
        proto = buf[ip + 9];
        *wire = ip + 12;
        *ports = ip + 20;
    } else if (ethertype == ETH_IPV6) {
        if (size < ip - start + 53 || buf[ip] >> 4 != 6)
            return 0;
        Py_ssize_t payload = (Py_ssize_t)buf[ip + 4] << 8 | buf[ip + 5];
        room = end - ip - 40 < payload ? end - ip - 40 : payload;
        proto = buf[ip + 6];
        *wire = ip + 8;
        *ports = ip + 40;
    } else {
        return 0;
    }
    /* From here every read is below *ports + 20 (TCP) or *ports + 8 (UDP),
     * both inside the frame by `room`. */
    if (proto == PROTO_TCP) {
        if (room < 20 || buf[*ports + 12] < TCP_MIN_OFFSET)
            return 0;
    } else if (proto != PROTO_UDP || room < 8 ||
               is_dhcp_server_port((unsigned)buf[*ports] << 8 | buf[*ports + 1])) {
        return 0;
    }
    return proto;
}

/* `shards._spread`: the high half folded in, then Knuth's multiplication. */
static uint32_t spread(uint32_t word) { return (uint32_t)((word ^ word >> 16) * GOLDEN) >> 16; }

static unsigned be16_at(const uint8_t *buf, Py_ssize_t at) {
    return (unsigned)buf[at] << 8 | buf[at + 1];
}

/* `shards._word_at`: 32 bits of an address, an IPv6 address's four words folded. */
static uint32_t word_at(const uint8_t *buf, Py_ssize_t at, Py_ssize_t size) {
    /* The XOR of big-endian words is the XOR of the words as loaded, swapped once. */
    uint32_t word = 0, part;
    for (Py_ssize_t offset = at; offset < at + size; offset += 4) {
        memcpy(&part, buf + offset, 4);
        word ^= part;
    }
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    word = __builtin_bswap32(word);
#endif
    return word;
}

/* `flows.is_local_scope`. */
static int local_at(const uint8_t *buf, Py_ssize_t at, Py_ssize_t size) {
    uint8_t first = buf[at];
    if (size == 4)
        return first >= 224 || first == 0 || (first == 169 && buf[at + 1] == 254);
    if (first == 0xFF || (first == 0xFE && (buf[at + 1] & 0xC0) == 0x80))
        return 1;
    for (Py_ssize_t i = at; i < at + size; i++)
        if (buf[i])
            return 0;
    return 1;
}

/* `shards._client_by_ports`: every packet of a flow between these ports
 * names its client alike (the higher port's end), without flow state. */
static int client_by_ports(int proto, unsigned sport, unsigned dport) {
    return sport != dport && (proto == PROTO_TCP || sport < 1024 || dport < 1024);
}

/* `shards._opened_from_lower_port`: a SYN or SYN-ACK from a TCP flow's
 * lower-port end (a scan from port 20). */
static int opened_from_lower_port(uint8_t flags, unsigned sport, unsigned dport) {
    return (flags & TCP_SYN) && !(flags & TCP_ACK) != (sport > dport);
}

/* One end of a wire key, mixed: its address word and port. */
static uint32_t end_mix(uint32_t word, unsigned port) {
    return (uint32_t)((((uint64_t)word << 16) ^ port) * 0x9E3779B97F4A7C15ull >> 40);
}

/* The bitmap bit of the flow of a wire key (12 or 36 bytes), the same for
 * both directions. Not keyed: a capture that sets bits only sends its
 * frames to the table's lookup, as every frame went before the bitmap. */
static uint32_t filter_of(int proto, uint32_t src_word, unsigned sport, uint32_t dst_word,
                          unsigned dport) {
    return (end_mix(src_word, sport) + end_mix(dst_word, dport) + (uint32_t)proto) &
           (FILTER_BITS - 1);
}

static uint32_t filter_bit(int proto, const uint8_t *key, Py_ssize_t len) {
    Py_ssize_t size = (len - 4) >> 1;
    return filter_of(proto, word_at(key, 0, size), be16_at(key, 2 * size), word_at(key, size, size),
                     be16_at(key, 2 * size + 2));
}

static int filtered(const Splitter *self, uint32_t bit) {
    return (int)(self->filter[bit >> 6] >> (bit & 63) & 1);
}

/* ---- the flow table: open addressing, linear probing ----
 *
 * Only the flows whose client the ports cannot tell are here
 * (`client_by_ports`). The Python assigner keeps a dict holding both
 * directions' wire keys of each. Here a flow takes one slot, under the wire key of the
 * direction whose (address, port) comes first: half the memory, half the
 * inserts. `count` still counts what the dict would hold (two keys a flow,
 * one when both directions are the same bytes), so the table is emptied at
 * the same frame as the dict would be. */

static void mirror_of(const uint8_t *key, Py_ssize_t len, uint8_t *mirror) {
    Py_ssize_t size = (len - 4) >> 1;
    memcpy(mirror, key + size, (size_t)size);
    memcpy(mirror + size, key, (size_t)size);
    memcpy(mirror + 2 * size, key + 2 * size + 2, 2);
    memcpy(mirror + 2 * size + 2, key + 2 * size, 2);
}

/* Whether a wire key (source address, destination address, source port,
 * destination port; 12 or 36 bytes) is filed under its mirror: when the
 * destination end comes first. `symmetric` is set when both are the same. */
static int files_as_mirror(const uint8_t *key, Py_ssize_t len, int *symmetric) {
    Py_ssize_t size = (len - 4) >> 1;
    int order = memcmp(key, key + size, (size_t)size);
    if (order == 0)
        order = memcmp(key + 2 * size, key + 2 * size + 2, 2);
    *symmetric = order == 0;
    return order > 0;
}

static Py_hash_t key_hash(int proto, const uint8_t *key, Py_ssize_t len) {
    /* CPython's keyed hash of bytes (SipHash, a per-run secret): a crafted
     * capture cannot pile its flows into one probe chain. Private API: a
     * Python without it fails the build, and the sensor runs interpreted. */
    return _Py_HashBytes(key, len) ^ proto;
}

/* Ends because the table is never more than two thirds full (`remember`
 * grows it first): every insert must go through `remember`. */
static Slot *find(Splitter *self, int proto, const uint8_t *key, Py_ssize_t len, Py_hash_t hash) {
    size_t at = (size_t)hash & self->mask;
    for (;;) {
        Slot *slot = &self->slots[at];
        if (slot->len == 0 ||
            (slot->hash == hash && slot->proto == proto && slot->len == len &&
             memcmp(slot->key, key, (size_t)len) == 0))
            return slot;
        at = (at + 1) & self->mask;
    }
}

static int32_t known(Splitter *self, int proto, const uint8_t *key, Py_ssize_t len) {
    uint8_t mirror[MAX_KEY];
    int symmetric;
    if (files_as_mirror(key, len, &symmetric)) {
        mirror_of(key, len, mirror);
        key = mirror;
    }
    Slot *slot = find(self, proto, key, len, key_hash(proto, key, len));
    return slot->len ? slot->shard : NO_SHARD;
}

static int grow(Splitter *self) {
    size_t slots = (self->mask + 1) * 2;
    Slot *fresh = PyMem_Calloc(slots, sizeof(Slot));
    if (fresh == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Slot *old = self->slots;
    size_t old_slots = self->mask + 1;
    self->slots = fresh;
    self->mask = slots - 1;
    for (size_t i = 0; i < old_slots; i++) {
        if (old[i].len) {
            size_t at = (size_t)old[i].hash & self->mask;
            while (fresh[at].len)
                at = (at + 1) & self->mask;
            fresh[at] = old[i];
        }
    }
    PyMem_Free(old);
    return 0;
}

/* `ShardAssigner`'s bound: a full table is emptied before the next flow is
 * added, at the same frame in every process. */
static void make_room(Splitter *self) {
    if (self->count >= self->max_flows) {
        memset(self->slots, 0, (self->mask + 1) * sizeof(Slot));
        memset(self->filter, 0, FILTER_BITS / 8);
        self->count = 0;
        self->used = 0;
    }
}

/* A new flow, under its filed key (`files_as_mirror`) and that key's hash. */
static int remember(Splitter *self, int proto, const uint8_t *key, Py_ssize_t len, Py_hash_t hash,
                    int symmetric, int32_t shard) {
    make_room(self);
    /* At most two thirds full, so a probe always meets an empty slot. */
    if ((size_t)(self->used + 1) * 3 > (self->mask + 1) * 2 && grow(self) < 0)
        return -1;
    Slot *slot = find(self, proto, key, len, hash);
    if (slot->len == 0) {
        slot->hash = hash;
        slot->proto = (uint8_t)proto;
        slot->len = (uint8_t)len;
        memcpy(slot->key, key, (size_t)len);
        uint32_t bit = filter_bit(proto, key, len);
        self->filter[bit >> 6] |= (uint64_t)1 << (bit & 63);
        self->used++;
        self->count += symmetric ? 1 : 2;
    }
    slot->shard = shard;
    return 0;
}

/* A frame read but not yet assigned: where it lies, and for a plain TCP/UDP
 * frame its protocol, wire key and ports (proto 0: not plain), its flow's
 * bitmap bit, and once `hashed` the key its flow is filed under and the
 * key's hash. */
typedef struct {
    Py_ssize_t start, end, wire, ports;
    int proto;
    uint32_t bit; /* `filter_bit`, of a TCP frame whose ports tell its client */
    uint32_t higher_word; /* and `word_at` of its higher port's address */
    int hashed;
    int mirrored, symmetric; /* the flow is filed under `mirror`; both directions alike */
    uint8_t mirror[MAX_KEY];
    Py_hash_t hash; /* of the filed key */
} Frame;

/* The key a plain frame's flow is filed under. */
static const uint8_t *filed_key(const uint8_t *buf, const Frame *frame) {
    return frame->mirrored ? frame->mirror : buf + frame->wire;
}

static void hash_frame(const uint8_t *buf, Frame *frame) {
    Py_ssize_t len = frame->ports + 4 - frame->wire;
    frame->mirrored = files_as_mirror(buf + frame->wire, len, &frame->symmetric);
    if (frame->mirrored)
        mirror_of(buf + frame->wire, len, frame->mirror);
    frame->hash = key_hash(frame->proto, filed_key(buf, frame), len);
    frame->hashed = 1;
}

/* Everything about buf[start..end) that needs no flow state. A frame whose
 * flow is likely in the table (by its ports, or by the bitmap now) is
 * hashed here and its slot fetched into the cache while the frames before
 * it are assigned: with the many flows of a large capture a lookup would
 * otherwise wait on memory. */
static void look_at(Splitter *self, const uint8_t *buf, Frame *frame) {
    frame->hashed = 0;
    if (self->shards == 1) {
        frame->proto = 0; /* every frame is process 0's (`other_at`): nothing to read */
        return;
    }
    frame->proto = plain_at(buf, frame->start, frame->end, &frame->wire, &frame->ports);
    if (!frame->proto)
        return;
    unsigned sport = be16_at(buf, frame->ports), dport = be16_at(buf, frame->ports + 2);
    if (client_by_ports(frame->proto, sport, dport)) {
        if (frame->proto != PROTO_TCP)
            return; /* never looked up */
        /* Both ends' words once: the bit's, and the higher port's the process's. */
        Py_ssize_t size = (frame->ports - frame->wire) >> 1;
        uint32_t src_word = word_at(buf, frame->wire, size);
        uint32_t dst_word = word_at(buf, frame->wire + size, size);
        frame->bit = filter_of(PROTO_TCP, src_word, sport, dst_word, dport);
        frame->higher_word = sport > dport ? src_word : dst_word;
        if (!filtered(self, frame->bit))
            return;
    }
    hash_frame(buf, frame);
    __builtin_prefetch(&self->slots[(size_t)frame->hash & self->mask]);
}

/* `ShardAssigner.shard_at` of a plain TCP/UDP frame (`look_at` read it); -1
 * for any other frame; -2 on no memory. */
static int plain_shard_at(Splitter *self, const uint8_t *buf, Frame *frame) {
    int proto = frame->proto;
    Py_ssize_t wire = frame->wire, ports = frame->ports;
    if (!proto)
        return -1;
    unsigned sport = be16_at(buf, ports), dport = be16_at(buf, ports + 2);
    if (proto == PROTO_UDP && is_dhcp_server_port(dport))
        return 0; /* a request to a DHCP server */
    if (self->shards == 1)
        return 0;
    uint32_t shards = (uint32_t)self->shards;
    Py_ssize_t len = ports + 4 - wire;
    Py_ssize_t size = (ports - wire) >> 1; /* an address: 4 or 16 bytes */
    Py_ssize_t src = wire, dst = wire + size;
    if (local_at(buf, src, size) || local_at(buf, dst, size)) {
        /* Not a flow (`new_flow` is None): by its ports, and not remembered. */
        uint32_t word = sport == dport   ? word_at(buf, src, size) ^ word_at(buf, dst, size)
                        : sport > dport ? word_at(buf, src, size)
                                         : word_at(buf, dst, size);
        return (int)(spread(word) % shards);
    }
    int32_t shard;
    if (client_by_ports(proto, sport, dport)) {
        if (proto == PROTO_TCP) {
            /* The bit may have been set since `look_at`, by a frame before this one. */
            if (filtered(self, frame->bit)) {
                if (!frame->hashed)
                    hash_frame(buf, frame);
                Slot *slot = find(self, proto, filed_key(buf, frame), len, frame->hash);
                if (slot->len)
                    return slot->shard;
            }
            uint8_t flags = buf[ports + 13];
            if (opened_from_lower_port(flags, sport, dport)) {
                if (!frame->hashed)
                    hash_frame(buf, frame);
                shard = (int32_t)(spread(word_at(buf, flags & TCP_ACK ? dst : src, size)) % shards);
                if (remember(self, proto, filed_key(buf, frame), len, frame->hash, frame->symmetric,
                             shard) < 0)
                    return -2;
                return shard;
            }
            return (int)(spread(frame->higher_word) % shards);
        }
        return (int)(spread(word_at(buf, sport > dport ? src : dst, size)) % shards);
    }
    if (!frame->hashed)
        hash_frame(buf, frame);
    const uint8_t *key = filed_key(buf, frame);
    Slot *slot = find(self, proto, key, len, frame->hash);
    if (slot->len)
        return slot->shard;
    /* `new_flow`'s client: the first packet's. */
    int client_is_src;
    if (proto == PROTO_TCP) {
        uint8_t flags = buf[ports + 13];
        client_is_src = (flags & TCP_SYN) ? !(flags & TCP_ACK) : !(sport < dport);
    } else {
        client_is_src = !(sport < dport && sport < 1024);
    }
    shard = (int32_t)(spread(word_at(buf, client_is_src ? src : dst, size)) % shards);
    if (remember(self, proto, key, len, frame->hash, frame->symmetric, shard) < 0)
        return -2;
    return shard;
}

/* The process of a frame that is not a plain TCP/UDP frame, where `decode`
 * and `ShardAssigner.shard` decide it without flow state: -1 for the rest
 * (TCP/UDP behind IPv4 options or IPv6 extension headers, DHCP answers,
 * short TCP/UDP frames, QinQ), which the caller decodes.
 *
 * Process 0 has every frame `decode` rejects and every non-IP, ICMP or
 * other non-TCP/UDP frame; an IPv4 fragment after the first goes by its
 * two addresses (`shard_of`). Each check below is the one in `decode` that
 * decides between those; nearly all of these frames are fragments, ARP and
 * ICMP, which a file would otherwise decode in every process. */
static int other_at(Splitter *self, const uint8_t *buf, Py_ssize_t start, Py_ssize_t end) {
    if (end - start < 14 || self->shards == 1)
        return 0; /* no Ethernet header: rejected */
    Py_ssize_t l3 = start + 14;
    unsigned ethertype = be16_at(buf, start + 12);
    if (ethertype == ETH_VLAN) {
        if (end - start < 18)
            return 0; /* a tag cut short: rejected */
        l3 += 4;
        ethertype = be16_at(buf, start + 16);
        if (ethertype == ETH_VLAN || ethertype == ETH_QINQ)
            return -1;
    } else if (ethertype == ETH_QINQ) {
        return -1;
    }
    if (ethertype == ETH_IPV4) {
        if (end - l3 < 20 || buf[l3] >> 4 != 4)
            return 0;
        Py_ssize_t header_len = (Py_ssize_t)(buf[l3] & 0x0F) << 2;
        if (header_len < 20 || (Py_ssize_t)be16_at(buf, l3 + 2) < header_len || end - l3 < header_len)
            return 0;
        if (be16_at(buf, l3 + 6) & 0x1FFF) /* a later fragment: no ports, by both addresses */
            return (int)(spread(word_at(buf, l3 + 12, 4) ^ word_at(buf, l3 + 16, 4)) %
                         (uint32_t)self->shards);
        int proto = buf[l3 + 9];
        return proto == PROTO_TCP || proto == PROTO_UDP ? -1 : 0;
    }
    if (ethertype == ETH_IPV6) {
        if (end - l3 < 40 || buf[l3] >> 4 != 6)
            return 0;
        switch (buf[l3 + 6]) {
        case PROTO_TCP:
        case PROTO_UDP:
        case 0: /* extension headers: hop-by-hop, routing, fragment, AH, destination */
        case 43:
        case 44:
        case 51:
        case 60:
            return -1;
        default:
            return 0;
        }
    }
    return 0; /* ARP and every other non-IP frame */
}

/* The process of the frame buf[start..end): -1 when only a decode can tell
 * (the caller decodes it), -2 on no memory. */
static int shard_at(Splitter *self, const uint8_t *buf, Py_ssize_t start, Py_ssize_t end) {
    Frame frame = {.start = start, .end = end};
    look_at(self, buf, &frame);
    int shard = plain_shard_at(self, buf, &frame);
    return shard == -1 ? other_at(self, buf, start, end) : shard;
}

static uint32_t u32_at(const uint8_t *buf, Py_ssize_t pos, int little) {
    if (little)
        return (uint32_t)buf[pos] | (uint32_t)buf[pos + 1] << 8 | (uint32_t)buf[pos + 2] << 16 |
               (uint32_t)buf[pos + 3] << 24;
    return (uint32_t)buf[pos] << 24 | (uint32_t)buf[pos + 1] << 16 | (uint32_t)buf[pos + 2] << 8 |
           buf[pos + 3];
}

/* The pcap record at `pos`, when it lies wholly in buf[..size) and its
 * captured length is within the reader's bound: its frame in `frame`. */
static int record_at(const uint8_t *buf, Py_ssize_t pos, Py_ssize_t size, int little,
                     Frame *frame) {
    if (pos + 16 > size)
        return 0;
    /* Each record's length leads to the next, so a walk over a file that is
     * not in the CPU's cache waits on memory at every record; fetching
     * ahead along the file keeps the next records' headers on their way. */
    if (pos + PREFETCH_AHEAD < size)
        __builtin_prefetch(buf + pos + PREFETCH_AHEAD);
    uint32_t caplen = u32_at(buf, pos + 8, little);
    if (caplen > MAX_RECORD || pos + 16 + (Py_ssize_t)caplen > size)
        return 0;
    frame->start = pos + 16;
    frame->end = pos + 16 + (Py_ssize_t)caplen;
    return 1;
}

/* ---- Python methods ---- */

static int check_range(PyObject *buf, Py_ssize_t start, Py_ssize_t end) {
    if (!PyBytes_Check(buf)) {
        PyErr_SetString(PyExc_TypeError, "buf must be bytes");
        return -1;
    }
    if (start < 0 || start > end || end > PyBytes_GET_SIZE(buf)) {
        PyErr_SetString(PyExc_ValueError, "range outside the buffer");
        return -1;
    }
    return 0;
}

/* Each conversion is checked before the next runs: an argument's own
 * __index__ or __bool__ is Python code, which must not run with an error set. */
static int long_arg(PyObject *arg, long low, long high, long *out) {
    *out = PyLong_AsLong(arg);
    if (*out == -1 && PyErr_Occurred())
        return -1;
    if (*out < low || *out > high) {
        PyErr_SetString(PyExc_ValueError, "argument out of range");
        return -1;
    }
    return 0;
}

static int bool_arg(PyObject *arg, int *out) {
    *out = PyObject_IsTrue(arg);
    return *out < 0 ? -1 : 0;
}

static int ssize_args(PyObject *const *args, Py_ssize_t want, Py_ssize_t *out) {
    for (Py_ssize_t i = 0; i < want; i++) {
        out[i] = PyLong_AsSsize_t(args[i]);
        if (out[i] == -1 && PyErr_Occurred())
            return -1;
    }
    return 0;
}

/* Every method's entry: an initialised object, and `want` arguments (`usage`). */
static int called(Splitter *self, Py_ssize_t nargs, Py_ssize_t want, const char *usage) {
    if (self->slots == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Splitter used before __init__");
        return -1;
    }
    if (nargs != want) {
        PyErr_SetString(PyExc_TypeError, usage);
        return -1;
    }
    return 0;
}

/* (buf, a, b) with 0 <= a <= b <= len(buf), buf bytes: a range of the buffer. */
static int range_args(PyObject *const *args, Py_ssize_t *range) {
    if (ssize_args(args + 1, 2, range) < 0)
        return -1;
    return check_range(args[0], range[0], range[1]);
}

static PyObject *Splitter_shard_at(Splitter *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_ssize_t range[2];
    if (called(self, nargs, 3, "shard_at(buf, start, end)") < 0)
        return NULL;
    if (range_args(args, range) < 0)
        return NULL;
    int shard = shard_at(self, (const uint8_t *)PyBytes_AS_STRING(args[0]), range[0], range[1]);
    if (shard == -2)
        return NULL;
    return PyLong_FromLong(shard);
}

/* A record (timestamp, frame, wire length) from its parts. */
static PyObject *record_from(double ts, const uint8_t *frame, Py_ssize_t caplen, uint32_t wirelen) {
    PyObject *record = PyTuple_New(3);
    if (record == NULL)
        return NULL;
    PyObject *items[3] = {
        PyFloat_FromDouble(ts),
        PyBytes_FromStringAndSize((const char *)frame, caplen),
        PyLong_FromUnsignedLong((unsigned long)wirelen),
    };
    for (int i = 0; i < 3; i++) {
        if (items[i] == NULL) {
            for (int j = 0; j < 3; j++)
                Py_XDECREF(items[j]);
            Py_DECREF(record);
            return NULL;
        }
    }
    for (int i = 0; i < 3; i++)
        PyTuple_SET_ITEM(record, i, items[i]);
    return record;
}

/* The reader's record (timestamp, frame, wire length) of the pcap record at `pos`. */
static PyObject *record_of(const uint8_t *buf, Py_ssize_t pos, int little, double scale) {
    Py_ssize_t caplen = (Py_ssize_t)u32_at(buf, pos + 8, little);
    double ts = (double)u32_at(buf, pos, little) + (double)u32_at(buf, pos + 4, little) * scale;
    return record_from(ts, buf + pos + 16, caplen, u32_at(buf, pos + 12, little));
}

/* take_blocks(buf, pos, size, little, ethernet, units, index): from the
 * pcapng block at `pos`, the frames of the whole enhanced packet blocks of
 * buf[..size) that process `index` owns, as the reader's records (at most
 * TAKE_BATCH); those other processes own are passed over. It stops before
 * any other block, for the reader to handle as it would alone: one
 * needing a decode to be assigned, a block of any other type (interfaces,
 * section headers, simple packets), one of a bogus length, one for an
 * interface that is not Ethernet (`ethernet[i]` is 1 for each declared
 * interface that is) or one not wholly in the buffer. `units` holds each
 * interface's seconds per timestamp unit, a native double each. `pos` is
 * then where it stopped. */
static PyObject *Splitter_take_blocks(Splitter *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_ssize_t at[2];
    if (called(self, nargs, 7, "take_blocks(buf, pos, size, little, ethernet, units, index)") < 0)
        return NULL;
    if (range_args(args, at) < 0)
        return NULL;
    int little;
    long index;
    if (bool_arg(args[3], &little) < 0 || long_arg(args[6], 0, LONG_MAX, &index) < 0)
        return NULL;
    if (!PyBytes_Check(args[4]) || !PyBytes_Check(args[5]) ||
        PyBytes_GET_SIZE(args[5]) != PyBytes_GET_SIZE(args[4]) * (Py_ssize_t)sizeof(double)) {
        PyErr_SetString(PyExc_TypeError, "ethernet and units must be bytes, a double a unit");
        return NULL;
    }
    const uint8_t *ethernet = (const uint8_t *)PyBytes_AS_STRING(args[4]);
    const char *units = PyBytes_AS_STRING(args[5]);
    Py_ssize_t interfaces = PyBytes_GET_SIZE(args[4]);
    /* Bytes are immutable and the list holds copies, so nothing here can
     * move the buffer while it is walked. */
    const uint8_t *buf = (const uint8_t *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t pos = at[0], size = at[1];
    PyObject *records = PyList_New(0);
    if (records == NULL)
        return NULL;
    while (pos + 12 <= size && PyList_GET_SIZE(records) < TAKE_BATCH) {
        if (pos + PREFETCH_AHEAD < size)
            __builtin_prefetch(buf + pos + PREFETCH_AHEAD);
        uint32_t type = u32_at(buf, pos, little);
        uint32_t length = u32_at(buf, pos + 4, little);
        if (type != 6 || length < 32 || length % 4 || length > MAX_BLOCK ||
            pos + (Py_ssize_t)length > size)
            break;
        uint32_t iface = u32_at(buf, pos + 8, little);
        if ((Py_ssize_t)iface >= interfaces || !ethernet[iface])
            break;
        uint32_t caplen = u32_at(buf, pos + 20, little);
        Py_ssize_t start = pos + 28;
        /* A captured length past its own block would read the next block's bytes. */
        Py_ssize_t end = start + (caplen < length - 32 ? caplen : length - 32);
        int owner = shard_at(self, buf, start, end);
        if (owner == -2)
            goto failed;
        if (owner < 0)
            break;
        if (owner == index) {
            double unit;
            memcpy(&unit, units + iface * sizeof(double), sizeof unit);
            uint64_t stamp = (uint64_t)u32_at(buf, pos + 12, little) << 32 |
                             u32_at(buf, pos + 16, little);
            PyObject *record =
                record_from((double)stamp * unit, buf + start, end - start,
                            u32_at(buf, pos + 24, little));
            if (record == NULL || PyList_Append(records, record) < 0) {
                Py_XDECREF(record);
                goto failed;
            }
            Py_DECREF(record);
        }
        pos += length;
    }
    self->pos = pos;
    return records;
failed:
    Py_DECREF(records);
    return NULL;
}

/* take(buf, size, little, scale, index): from `pos`, the pcap records of
 * buf[..size) that process `index` owns, as the reader's (timestamp,
 * frame, wire length), at most TAKE_BATCH of them; the records other
 * processes own are passed over. The list ends early at a record that
 * needs a decode to be assigned: then it is the list's last, and
 * `undecided` is true. `pos` moves past the last record listed, or, when
 * the walk met the end of the whole records (past records other processes
 * own), to where the rest starts; `corrupt_at` is then `pos` when that
 * record's captured length is bogus (`corrupt_length`), else -1, and may
 * be set with records listed: the caller reads it after an empty list (no
 * whole record left), which the next call gives with the same flag.
 *
 * A few frames of lookahead: each record is read (and a flow's slot
 * fetched) LOOKAHEAD frames before it is assigned, long enough for the
 * fetch to arrive. Reading is pure, so the frames read ahead when the list
 * ends are read again by the next call. */
static PyObject *Splitter_take(Splitter *self, PyObject *const *args, Py_ssize_t nargs) {
    if (called(self, nargs, 5, "take(buf, size, little, scale, index)") < 0)
        return NULL;
    Py_ssize_t size;
    int little;
    long index;
    if (ssize_args(args + 1, 1, &size) < 0 || bool_arg(args[2], &little) < 0)
        return NULL;
    double scale = PyFloat_AsDouble(args[3]);
    if ((scale == -1.0 && PyErr_Occurred()) || long_arg(args[4], 0, LONG_MAX, &index) < 0)
        return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const uint8_t *buf = view.buf;
    PyObject *records = NULL;
    if (size < 0 || size > view.len || self->pos < 0 || self->pos > size) {
        PyErr_SetString(PyExc_ValueError, "size or pos outside the buffer");
        goto done;
    }
    records = PyList_New(0);
    if (records == NULL)
        goto done;
    self->undecided = 0;
    self->corrupt_at = -1;
    Frame ahead[LOOKAHEAD];
    int first = 0, held = 0;
    Py_ssize_t next = self->pos; /* the record after those read ahead */
    for (;;) {
        while (held < LOOKAHEAD) {
            Frame *frame = &ahead[(first + held) % LOOKAHEAD];
            if (!record_at(buf, next, size, little, frame))
                break;
            look_at(self, buf, frame);
            next = frame->end;
            held++;
        }
        if (held == 0) { /* no whole record left */
            self->pos = next;
            if (next + 16 <= size && u32_at(buf, next + 8, little) > MAX_RECORD) {
                self->corrupt_at = next;
                self->corrupt_length = u32_at(buf, next + 8, little);
            }
            break;
        }
        Frame *this = &ahead[first];
        first = (first + 1) % LOOKAHEAD;
        held--;
        int owner = plain_shard_at(self, buf, this);
        if (owner == -1)
            owner = other_at(self, buf, this->start, this->end);
        if (owner == -2)
            goto failed;
        if (owner != index && owner >= 0)
            continue;
        PyObject *record = record_of(buf, this->start - 16, little, scale);
        if (record == NULL || PyList_Append(records, record) < 0) {
            Py_XDECREF(record);
            goto failed;
        }
        Py_DECREF(record);
        self->pos = this->end;
        if (owner < 0) {
            self->undecided = 1;
            break;
        }
        if (PyList_GET_SIZE(records) >= TAKE_BATCH)
            break;
    }
    goto done;
failed:
    Py_CLEAR(records);
done:
    PyBuffer_Release(&view);
    return records;
}

/* A wire key from Python: both addresses of one family, then both ports. */
static int key_arg(PyObject *arg, const uint8_t **key, Py_ssize_t *len) {
    if (!PyBytes_Check(arg) || (PyBytes_GET_SIZE(arg) != 12 && PyBytes_GET_SIZE(arg) != 36)) {
        PyErr_SetString(PyExc_ValueError, "a wire key is 12 or 36 bytes");
        return -1;
    }
    *key = (const uint8_t *)PyBytes_AS_STRING(arg);
    *len = PyBytes_GET_SIZE(arg);
    return 0;
}

static PyObject *Splitter_known(Splitter *self, PyObject *const *args, Py_ssize_t nargs) {
    const uint8_t *key;
    Py_ssize_t len;
    if (called(self, nargs, 2, "known(proto, key)") < 0)
        return NULL;
    long proto;
    if (long_arg(args[0], LONG_MIN, LONG_MAX, &proto) < 0 || key_arg(args[1], &key, &len) < 0)
        return NULL;
    return PyLong_FromLong(known(self, (int)(proto & 0xFF), key, len));
}

/* remember(proto, key, shard): a new flow, both directions, from either's wire key. */
static PyObject *Splitter_remember(Splitter *self, PyObject *const *args, Py_ssize_t nargs) {
    const uint8_t *key;
    Py_ssize_t len;
    if (called(self, nargs, 3, "remember(proto, key, shard)") < 0)
        return NULL;
    long proto, shard;
    if (long_arg(args[0], LONG_MIN, LONG_MAX, &proto) < 0 || key_arg(args[1], &key, &len) < 0 ||
        long_arg(args[2], 0, self->shards - 1, &shard) < 0)
        return NULL;
    uint8_t mirror[MAX_KEY];
    int symmetric;
    if (files_as_mirror(key, len, &symmetric)) {
        mirror_of(key, len, mirror);
        key = mirror;
    }
    int byte = (int)(proto & 0xFF);
    if (remember(self, byte, key, len, key_hash(byte, key, len), symmetric, (int32_t)shard) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static int Splitter_init(Splitter *self, PyObject *args, PyObject *kwds) {
    static char *names[] = {"shards", "max_flows", NULL};
    long shards;
    Py_ssize_t max_flows;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ln", names, &shards, &max_flows))
        return -1;
    if (shards < 1 || shards > 4096 || max_flows < 1) {
        PyErr_SetString(PyExc_ValueError, "1 to 4096 shards, a positive table bound");
        return -1;
    }
    PyMem_Free(self->slots);
    PyMem_Free(self->filter);
    self->slots = PyMem_Calloc(1024, sizeof(Slot));
    self->filter = PyMem_Calloc(FILTER_BITS / 64, sizeof(uint64_t));
    if (self->slots == NULL || self->filter == NULL) {
        PyMem_Free(self->slots);
        PyMem_Free(self->filter);
        self->slots = NULL;
        self->filter = NULL;
        PyErr_NoMemory();
        return -1;
    }
    self->shards = shards;
    self->max_flows = max_flows;
    self->count = 0;
    self->used = 0;
    self->mask = 1023;
    self->pos = 0;
    self->undecided = 0;
    self->corrupt_at = -1;
    self->corrupt_length = 0;
    return 0;
}

static void Splitter_dealloc(Splitter *self) {
    PyMem_Free(self->slots);
    PyMem_Free(self->filter);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t Splitter_len(Splitter *self) { return self->count; }

static PyMethodDef Splitter_methods[] = {
    {"shard_at", (PyCFunction)(void (*)(void))Splitter_shard_at, METH_FASTCALL, NULL},
    {"take", (PyCFunction)(void (*)(void))Splitter_take, METH_FASTCALL, NULL},
    {"take_blocks", (PyCFunction)(void (*)(void))Splitter_take_blocks, METH_FASTCALL, NULL},
    {"known", (PyCFunction)(void (*)(void))Splitter_known, METH_FASTCALL, NULL},
    {"remember", (PyCFunction)(void (*)(void))Splitter_remember, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Splitter_members[] = {
    {"pos", T_PYSSIZET, offsetof(Splitter, pos), 0, NULL},
    {"undecided", T_BOOL, offsetof(Splitter, undecided), READONLY, NULL},
    {"corrupt_at", T_PYSSIZET, offsetof(Splitter, corrupt_at), READONLY, NULL},
    {"corrupt_length", T_ULONG, offsetof(Splitter, corrupt_length), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PySequenceMethods Splitter_sequence = {.sq_length = (lenfunc)Splitter_len};

static PyTypeObject SplitterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "monitors.packets._split.Splitter",
    .tp_basicsize = sizeof(Splitter),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Splitter_init,
    .tp_dealloc = (destructor)Splitter_dealloc,
    .tp_methods = Splitter_methods,
    .tp_members = Splitter_members,
    .tp_as_sequence = &Splitter_sequence,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "monitors.packets._split", .m_size = -1,
};

PyMODINIT_FUNC PyInit__split(void) {
    if (PyType_Ready(&SplitterType) < 0)
        return NULL;
    PyObject *mod = PyModule_Create(&module);
    if (mod == NULL)
        return NULL;
    Py_INCREF(&SplitterType);
    if (PyModule_AddObject(mod, "Splitter", (PyObject *)&SplitterType) < 0) {
        Py_DECREF(&SplitterType);
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
