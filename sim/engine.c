/* engine.c — the discrete-event engine: replays per-stage op lists against a cost model.
 *
 * See engine.h for the model. Layout of one run:
 *   setup    count the messages of each channel
 *            (transfer and direction), give each channel its link and a slice of the message
 *            slots (arrival time and microbatch of the k-th message sent on it);
 *   loop     pop the earliest event (time, sequence) = "stage s free at time t", run the stage's
 *            next op, and put the stage back at the op's end (a replace-top, one sift-down);
 *            a RECV whose message is not sent yet parks the stage on its channel, and the SEND
 *            that provides it completes the RECV and pushes the stage again;
 *   finish   statistics. The schedule was validated (pc_schedule_validate), so every stage
 *            finishes and every message pairs; the engine checks no op list itself.
 * Links need no events: a link is fed by one sender in that sender's program order, and a
 * node's ports by their senders in the order of the simulated time (events run in time order),
 * so a message's departure and arrival are known when it is sent. A stage's all-reduce rings
 * (costs->reduce) are events of their own, keyed P + stage, so that each takes the ports at the
 * time it starts; an OPT that reaches unfinished rings parks until the last one ends. */
#include "engine.h"

#include <string.h>

#include "error.h"

/* ------------------------------------------------------------------------------------------ */
/* Event heap */

#define PREFETCH_AHEAD 12 /* ops: 3 cache lines of ops and of spans */
#define STAGE_BITS 24
#define STAGE_MASK ((UINT64_C(1) << STAGE_BITS) - 1)

/* 16 bytes: the time's bit pattern, then (insertion sequence << STAGE_BITS | stage). Times are
 * >= +0 (costs are checked), and the IEEE 754 bit patterns of non-negative doubles order as the
 * values do, so two integer compares decide; the sequence is unique, so key order is insertion
 * order. */
typedef struct {
  uint64_t t;
  uint64_t key;
} ev;

static inline uint64_t time_bits(double t) {
  t += 0.0; /* -0 -> +0 */
  uint64_t u;
  memcpy(&u, &t, sizeof u);
  return u;
}

static inline double bits_time(uint64_t u) {
  double t;
  memcpy(&t, &u, sizeof t);
  return t;
}

static inline bool ev_less(ev a, ev b) {
  return (a.t < b.t) | ((a.t == b.t) & (a.key < b.key)); /* branch-free */
}

typedef struct {
  ev *a;
  int n;
  uint64_t seq;
} heap;

static inline void heap_push(heap *h, double t, int stage) {
  ev e = {time_bits(t), (h->seq++ << STAGE_BITS) | (uint64_t)stage};
  int i = h->n++;
  while (i > 0) {
    int p = (i - 1) >> 1;
    if (!ev_less(e, h->a[p]))
      break;
    h->a[i] = h->a[p];
    i = p;
  }
  h->a[i] = e;
}

/* Sifts E down from the root (the root's old value is dropped). */
static inline void heap_sift_root(heap *h, ev e) {
  ev *a = h->a;
  int n = h->n, i = 0;
  for (;;) {
    int c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n)
      c += (int)ev_less(a[c + 1], a[c]);
    if (!ev_less(a[c], e))
      break;
    a[i] = a[c];
    i = c;
  }
  a[i] = e;
}

static inline void heap_replace_top(heap *h, double t, int stage) {
  heap_sift_root(h, (ev){time_bits(t), (h->seq++ << STAGE_BITS) | (uint64_t)stage});
}

static inline void heap_pop(heap *h) {
  h->n--;
  if (h->n > 0)
    heap_sift_root(h, h->a[h->n]);
}

/* ------------------------------------------------------------------------------------------ */
/* Engine state */

typedef struct {
  int recv_rank;  /* the receiving rank */
  int link;       /* index in links */
  int out, in;    /* ports held across nodes: index in port_free (-1: none) */
  int64_t base;   /* first message slot */
  int nsent;      /* messages sent so far */
  int nrecv;      /* messages received so far */
  int nslots;     /* SENDs of this channel in the schedule */
  bool waiting;   /* recv_rank is parked at a RECV of message nrecv */
} channel;

struct pc_engine {
  /* per stage */
  int stage_cap;
  int *pc;              /* next op */
  int *last_grad;       /* index of the last BWD or BWD_W op (-1: none) */
  const pc_sim_reduce **red; /* the stage's all-reduce (NULL: none) */
  int *ring;            /* next ring to start; red->n once all have */
  double *ring_base;    /* when the last backward op began */
  double *ring_done;    /* when the last ring ends (< 0: not yet known) */
  bool *opt_parked;     /* parked at OPT until ring_done */
  double *opt_ready;    /* when its OPT could start but for the meeting (costs->opt_sync) */
  int opt_arrived;      /* stages at the meeting */
  double opt_release;   /* when the meeting's reduction ends (< 0: not yet known) */
  double *opt_rings;    /* when its OPT's rings were done (< 0: not yet known) */
  double *tie_ready;    /* when it came to the tied weight's exchange (< 0: not yet) */
  double tie_release;   /* when that exchange ends (< 0: not yet known) */
  bool *tie_passed;     /* its part of the exchange counted */
  pc_sim_stage *stats;
  const pc_span **tl_ptr;
  ev *heap_mem;
  /* per channel */
  int chan_cap;
  channel *chans;
  /* links */
  int link_cap;
  pc_sim_link *links;
  double *link_free;
  /* node ports: 2 node (way out), 2 node + 1 (way in) */
  int port_cap;
  double *port_free;
  /* message slots */
  int64_t slot_cap;
  double *arrival;
  int32_t *slot_mb;
  /* timeline */
  size_t span_cap;
  pc_span *spans;
  pc_sim_result result;
};

pc_engine *pc_engine_new(void) { return g_new0(pc_engine, 1); }

void pc_engine_free(pc_engine *e) {
  if (e == NULL)
    return;
  g_free(e->pc);
  g_free(e->last_grad);
  g_free(e->red);
  g_free(e->ring);
  g_free(e->ring_base);
  g_free(e->ring_done);
  g_free(e->opt_parked);
  g_free(e->opt_ready);
  g_free(e->opt_rings);
  g_free(e->tie_ready);
  g_free(e->tie_passed);
  g_free(e->stats);
  g_free(e->tl_ptr);
  g_free(e->heap_mem);
  g_free(e->chans);
  g_free(e->links);
  g_free(e->link_free);
  g_free(e->port_free);
  g_free(e->arrival);
  g_free(e->slot_mb);
  g_free(e->spans);
  g_free(e);
}

static void reserve(pc_engine *e, int nstages, int nchans, int nlinks, int64_t nslots,
                    size_t nspans) {
  if (nstages > e->stage_cap) {
    e->pc = g_renew(int, e->pc, nstages);
    e->last_grad = g_renew(int, e->last_grad, nstages);
    e->red = g_renew(const pc_sim_reduce *, e->red, nstages);
    e->ring = g_renew(int, e->ring, nstages);
    e->ring_base = g_renew(double, e->ring_base, nstages);
    e->ring_done = g_renew(double, e->ring_done, nstages);
    e->opt_parked = g_renew(bool, e->opt_parked, nstages);
    e->opt_ready = g_renew(double, e->opt_ready, nstages);
    e->opt_rings = g_renew(double, e->opt_rings, nstages);
    e->tie_ready = g_renew(double, e->tie_ready, nstages);
    e->tie_passed = g_renew(bool, e->tie_passed, nstages);
    e->stats = g_renew(pc_sim_stage, e->stats, nstages);
    e->tl_ptr = g_renew(const pc_span *, e->tl_ptr, nstages);
    e->heap_mem = g_renew(ev, e->heap_mem, 2 * (size_t)nstages); /* stages and rings */
    e->stage_cap = nstages;
  }
  if (nchans > e->chan_cap) {
    e->chans = g_renew(channel, e->chans, nchans);
    e->chan_cap = nchans;
  }
  if (nlinks > e->link_cap) {
    e->links = g_renew(pc_sim_link, e->links, nlinks);
    e->link_free = g_renew(double, e->link_free, nlinks);
    e->link_cap = nlinks;
  }
  if (nslots > e->slot_cap) {
    e->arrival = g_renew(double, e->arrival, (size_t)nslots);
    e->slot_mb = g_renew(int32_t, e->slot_mb, (size_t)nslots);
    e->slot_cap = nslots;
  }
  if (nspans > e->span_cap) {
    e->spans = g_renew(pc_span, e->spans, nspans);
    e->span_cap = nspans;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Costs */

static double uniform_compute(void *ud, int stage, const pc_op *op) {
  const pc_sim_uniform *u = ud;
  (void)stage;
  switch (op->kind) {
  case PC_OP_FWD: return u->fwd;
  case PC_OP_BWD: return u->bwd;
  case PC_OP_BWD_W: return u->bwd_w;
  default: return u->opt;
  }
}

static double uniform_message(void *ud, const pc_xfer *x, bool grad) {
  const pc_sim_uniform *u = ud;
  (void)x;
  (void)grad;
  return u->message;
}

void pc_sim_costs_uniform(pc_sim_costs *costs, const pc_sim_uniform *u) {
  *costs = (pc_sim_costs){.compute = uniform_compute,
                          .message = uniform_message,
                          .send_overhead = u->send_overhead,
                          .recv_overhead = u->recv_overhead,
                          .ud = (void *)u};
}

/* ------------------------------------------------------------------------------------------ */
/* Setup */

/* Counts each channel's SENDs, assigns links and slots. The schedule has passed
 * pc_schedule_validate: only what would touch memory out of bounds is asserted. */
static void setup(pc_engine *e, const pc_schedule *s, const pc_sim_costs *costs) {
  const int P = s->nstages, nch = 2 * s->nxfers;
  size_t nspans = pc_schedule_total_ops(s);
  reserve(e, P, nch, nch, 0, nspans);

  for (int ch = 0; ch < nch; ch++) {
    const pc_xfer *x = &s->xfers[ch / 2];
    bool grad = ch & 1;
    PC_ASSERT(x->src >= 0 && x->dst > x->src && x->dst < P * s->nchunks);
    e->chans[ch] = (channel){.recv_rank = pc_schedule_rank_of(s, grad ? x->src : x->dst)};
  }

  for (int r = 0; r < P; r++) {
    const pc_stage_ops *st = &s->stages[r];
    for (int i = 0; i < st->nops; i++) {
      const pc_op *op = &st->ops[i];
      PC_ASSERT(op->kind < PC_OP_KIND_COUNT);
      if (op->kind == PC_OP_SEND) {
        PC_ASSERT(op->xfer >= 0 && op->xfer < s->nxfers);
        e->chans[pc_op_tag(op)].nslots++;
      } else if (op->kind == PC_OP_RECV) {
        PC_ASSERT(op->xfer >= 0 && op->xfer < s->nxfers);
      }
    }
  }

  /* Links, deduplicated by (src, dst) in channel order; slots. */
  GHashTable *ids = g_hash_table_new(g_int64_hash, g_int64_equal);
  int64_t *keys = g_new(int64_t, MAX(nch, 1));
  int nlinks = 0;
  int64_t nslots = 0;
  for (int ch = 0; ch < nch; ch++) {
    const pc_xfer *x = &s->xfers[ch / 2];
    bool grad = ch & 1;
    int from = pc_schedule_rank_of(s, grad ? x->dst : x->src);
    int to = e->chans[ch].recv_rank;
    keys[ch] = (int64_t)from * P + to;
    gpointer id;
    if (g_hash_table_lookup_extended(ids, &keys[ch], NULL, &id)) {
      e->chans[ch].link = GPOINTER_TO_INT(id);
    } else {
      e->links[nlinks] = (pc_sim_link){.src = from, .dst = to};
      e->link_free[nlinks] = 0.0;
      g_hash_table_insert(ids, &keys[ch], GINT_TO_POINTER(nlinks));
      e->chans[ch].link = nlinks++;
    }
    e->chans[ch].base = nslots;
    nslots += e->chans[ch].nslots;
  }
  g_hash_table_destroy(ids);
  g_free(keys);
  reserve(e, P, nch, nlinks, nslots, nspans);
  e->result.nlinks = nlinks;

  /* Ports of the nodes, for the channels that cross them. */
  if (2 * P > e->port_cap) {
    e->port_free = g_renew(double, e->port_free, 2 * P);
    e->port_cap = 2 * P;
  }
  for (int i = 0; i < 2 * P; i++) e->port_free[i] = 0.0;
  for (int ch = 0; ch < nch; ch++) {
    channel *c = &e->chans[ch];
    int a = costs->node ? costs->node(costs->ud, e->links[c->link].src) : 0;
    int b = costs->node ? costs->node(costs->ud, c->recv_rank) : 0;
    PC_ASSERT(a >= 0 && a < P && b >= 0 && b < P);
    c->out = a != b ? 2 * a : -1;
    c->in = a != b ? 2 * b + 1 : -1;
  }

  size_t off = 0;
  for (int r = 0; r < P; r++) {
    e->tl_ptr[r] = e->spans + off;
    off += (size_t)s->stages[r].nops;
    e->pc[r] = 0;
    e->stats[r] = (pc_sim_stage){.peak_inflight = s->stages[r].peak_inflight};
    e->last_grad[r] = -1;
    for (int i = s->stages[r].nops - 1; i >= 0 && e->last_grad[r] < 0; i--)
      if (s->stages[r].ops[i].kind == PC_OP_BWD || s->stages[r].ops[i].kind == PC_OP_BWD_W)
        e->last_grad[r] = i;
    const pc_sim_reduce *red = costs->reduce ? costs->reduce(costs->ud, r) : NULL;
    e->red[r] = red && red->n > 0 && e->last_grad[r] >= 0 ? red : NULL;
    e->ring[r] = 0;
    e->ring_base[r] = 0.0;
    e->ring_done[r] = e->red[r] ? -1.0 : 0.0;
    e->opt_parked[r] = false;
    e->opt_ready[r] = -1.0;
    e->opt_rings[r] = -1.0;
    e->tie_ready[r] = -1.0;
    e->tie_passed[r] = false;
  }
  e->opt_arrived = 0;
  e->opt_release = -1.0;
  e->tie_release = -1.0;
}

/* Puts WIRE seconds on a node's ports OUT and IN (-1: none) from T or once they are free;
 * returns when it ends. */
static inline double hold_ports(pc_engine *e, int out, int in, double t, double wire) {
  if (out < 0) return t + wire;
  double end = MAX(t, MAX(e->port_free[out], e->port_free[in])) + wire;
  e->port_free[out] = e->port_free[in] = end;
  return end;
}

/* Starts ring k of stage r at T (its ready time, ring k-1 done): it takes the node's ports once
 * free; the next ring is queued, or, after the last, a parked OPT resumes. Returns false when a
 * duration is bad. */
static bool run_ring(pc_engine *e, const pc_schedule *s, const pc_sim_costs *costs, heap *h,
                     int r, double t, GError **error) {
  const pc_sim_reduce *red = e->red[r];
  int k = e->ring[r]++;
  if (G_UNLIKELY(!(red->wire[k] >= 0 && red->ready[k] >= 0 && red->stretch >= 0))) {
    pc_schedule_op_error(error, PC_ERROR_USAGE, s, r, e->last_grad[r],
                         "all-reduce ring %d: %g s ready at %g s, stretch %g s", k,
                         red->wire[k], red->ready[k], red->stretch);
    return false;
  }
  int n = red->ports && costs->node ? costs->node(costs->ud, r) : -1;
  double end = hold_ports(e, n >= 0 ? 2 * n : -1, 2 * n + 1, t, red->wire[k]);
  if (k + 1 < red->n) {
    heap_push(h, MAX(end, e->ring_base[r] + red->ready[k + 1]), s->nstages + r);
  } else {
    e->ring_done[r] = end;
    if (e->opt_parked[r]) heap_push(h, end, r);
  }
  return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Run */

/* The SEND of message mb on channel c, arriving at ARRIVE, completes the receiver's parked RECV
 * and puts the receiver back on the heap. */
static inline void complete_recv(pc_engine *e, const pc_schedule *s, heap *h, channel *c, int mb,
                                 double arrive, double ro) {
  int q = c->recv_rank;
  int j = e->pc[q];
  PC_ASSERT(s->stages[q].ops[j].mb == mb); /* FIFO pairing, as validated */
  pc_span *rspan = (pc_span *)&e->tl_ptr[q][j];
  double end = MAX(rspan->start, arrive) + ro;
  rspan->end = end;
  e->stats[q].comm += ro;
  c->nrecv++;
  c->waiting = false;
  e->pc[q] = ++j;
  if (j < s->stages[q].nops)
    heap_push(h, end, q);
  else
    e->stats[q].finish = end;
}

/* After the last event: the makespan and each stage's idle time and bubble. */
static void finish(pc_engine *e, const pc_schedule *s, uint64_t nevents) {
  const int P = s->nstages;
  pc_sim_stage *stats = e->stats;
  /* a validated schedule finishes and receives every message it sends */
  for (int r = 0; r < P; r++)
    PC_ASSERT(e->pc[r] == s->stages[r].nops);
  for (int ch = 0; ch < 2 * s->nxfers; ch++)
    PC_ASSERT(e->chans[ch].nrecv == e->chans[ch].nsent);
  double makespan = 0.0;
  for (int r = 0; r < P; r++)
    makespan = MAX(makespan, stats[r].finish);
  for (int r = 0; r < P; r++) {
    stats[r].idle = makespan - stats[r].busy - stats[r].comm - stats[r].reduce;
    stats[r].bubble = makespan > 0 ? stats[r].idle / makespan : 0.0;
  }
  e->result.nstages = P;
  e->result.makespan = makespan;
  e->result.nevents = nevents;
  e->result.stages = stats;
  e->result.timeline = e->tl_ptr;
  e->result.links = e->links;
}

const pc_sim_result *pc_engine_run(pc_engine *e, const pc_schedule *s, const pc_sim_costs *costs,
                                   GError **error) {
  PC_ASSERT(e != NULL && s != NULL && costs != NULL);
  PC_ASSERT(s->nstages >= 1 && 2 * (uint64_t)s->nstages <= STAGE_MASK); /* stages, rings */
  setup(e, s, costs);

  const int P = s->nstages;
  const double so = costs->send_overhead, ro = costs->recv_overhead;
  if (!(so >= 0 && ro >= 0)) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "negative or NaN message overhead");
    return NULL;
  }
  double (*compute)(void *, int, const pc_op *) = costs->compute;
  double (*message)(void *, const pc_xfer *, bool) = costs->message;
  double (*message_cpu)(void *, const pc_xfer *, bool) = costs->message_cpu;
  void *ud = costs->ud;
  int *pcs = e->pc;
  pc_sim_stage *stats = e->stats;
  pc_span *const *tl = (pc_span *const *)e->tl_ptr;
  channel *chans = e->chans;
  double *arrival = e->arrival;
  int32_t *slot_mb = e->slot_mb;
  double *link_free = e->link_free;
  pc_sim_link *links = e->links;

  heap h = {.a = e->heap_mem, .n = 0, .seq = 0};
  for (int r = 0; r < P; r++)
    if (s->stages[r].nops > 0)
      heap_push(&h, 0.0, r);
    else
      stats[r].finish = 0.0;

  uint64_t nevents = 0;
  while (h.n > 0) {
    const double t = bits_time(h.a[0].t);
    const int r = (int)(h.a[0].key & STAGE_MASK);
    nevents++;
    if (r >= P) { /* a ring of stage r - P */
      heap_pop(&h);
      if (!run_ring(e, s, costs, &h, r - P, t, error)) return NULL;
      continue;
    }
    const int i = pcs[r];
    const pc_stage_ops *st = &s->stages[r];
    const pc_op *op = &st->ops[i];
    pc_span *span = &tl[r][i];
    double next;
#if defined(__GNUC__)
    /* Hundreds of stages interleave, too many streams for the hardware prefetcher: fetch this
     * stage's ops and spans a few lines ahead, long before it runs again. */
    {
      int ahead = MIN(i + PREFETCH_AHEAD, st->nops - 1);
      __builtin_prefetch(&st->ops[ahead], 0, 3);
      __builtin_prefetch(&tl[r][ahead], 1, 3);
    }
#endif

    switch (op->kind) {
    case PC_OP_SEND: {
      channel *c = &chans[pc_op_tag(op)];
      double wire = message ? message(ud, &s->xfers[op->xfer], op->grad) : 0.0;
      double cpu = message_cpu ? message_cpu(ud, &s->xfers[op->xfer], op->grad) : 0.0;
      if (G_UNLIKELY(!(wire >= 0) || !(cpu >= 0))) {
        pc_schedule_op_error(error, PC_ERROR_USAGE, s, r, i, "message time %g, its work %g", wire,
                             cpu);
        return NULL;
      }
      next = t + so + cpu;
      double arrive = hold_ports(e, c->out, c->in, MAX(link_free[c->link], next), wire);
      link_free[c->link] = arrive;
      links[c->link].busy += wire;
      links[c->link].nmessages++;
      int k = c->nsent++;
      arrival[c->base + k] = arrive;
      slot_mb[c->base + k] = op->mb;
      stats[r].comm += so + cpu;
      span->start = t;
      span->end = next;
      if (c->waiting && c->nrecv == k)
        complete_recv(e, s, &h, c, op->mb, arrive, ro + cpu);
      break;
    }
    case PC_OP_RECV: {
      channel *c = &chans[pc_op_tag(op)];
      span->start = t;
      if (c->nrecv == c->nsent) {
        c->waiting = true; /* parked: the SEND will push this stage */
        heap_pop(&h);
        continue;
      }
      int64_t slot = c->base + c->nrecv;
      PC_ASSERT(slot_mb[slot] == op->mb); /* FIFO pairing, as validated */
      c->nrecv++;
      double end_ro = ro + (message_cpu ? message_cpu(ud, &s->xfers[op->xfer], op->grad) : 0.0);
      next = MAX(t, arrival[slot]) + end_ro;
      stats[r].comm += end_ro;
      span->end = next;
      break;
    }
    default: {
      double d = compute ? compute(ud, r, op) : 0.0;
      if (G_UNLIKELY(!(d >= 0))) {
        pc_schedule_op_error(error, PC_ERROR_USAGE, s, r, i, "compute time %g", d);
        return NULL;
      }
      const pc_sim_reduce *red = e->red[r];
      double begin = t, stretch = 0;
      bool tied = costs->tie_exchange > 0 && (r == costs->tie_a || r == costs->tie_b);
      if ((red || costs->opt_sync > 0 || tied) && op->kind == PC_OP_OPT) {
        if (!e->opt_parked[r]) span->start = t;
        if (e->ring_done[r] < 0) { /* parked: the last ring pushes this stage */
          e->opt_parked[r] = true;
          heap_pop(&h);
          continue;
        }
        if (e->opt_rings[r] < 0) e->opt_rings[r] = MAX(t, e->ring_done[r]);
        begin = e->opt_rings[r];
        if (tied) { /* the tied weight's two halves: the second to come starts the exchange */
          int other = r == costs->tie_a ? costs->tie_b : costs->tie_a;
          if (e->tie_release < 0) {
            e->tie_ready[r] = begin;
            if (e->tie_ready[other] < 0) {
              e->opt_parked[r] = true;
              heap_pop(&h);
              continue;
            }
            e->tie_release = MAX(begin, e->tie_ready[other]) + costs->tie_exchange;
            heap_push(&h, e->tie_release, other);
          }
          if (!e->tie_passed[r]) stats[r].comm += costs->tie_exchange;
          e->tie_passed[r] = true;
          begin = e->tie_release;
        }
        if (costs->opt_sync > 0) {
          if (e->opt_ready[r] < 0) { /* arrives at the meeting; the last releases the others */
            e->opt_parked[r] = true;
            e->opt_ready[r] = begin;
            if (++e->opt_arrived < P) {
              heap_pop(&h);
              continue;
            }
            double last = 0;
            for (int q = 0; q < P; q++) last = MAX(last, e->opt_ready[q]);
            e->opt_release = last + costs->opt_sync;
            for (int q = 0; q < P; q++)
              if (q != r) heap_push(&h, e->opt_release, q);
          }
          /* the rings' wait counts as all-reduce, the reduction as communication, the wait
           * for the other stages as idle */
          stats[r].reduce += e->opt_rings[r] - span->start;
          stats[r].comm += costs->opt_sync;
          begin = e->opt_release;
        } else {
          stats[r].reduce += e->opt_rings[r] - span->start;
        }
      } else {
        span->start = t;
        if (red && i == e->last_grad[r]) {
          stretch = red->stretch;
          e->ring_base[r] = t;
        }
      }
      next = begin + d + stretch;
      stats[r].busy += d;
      stats[r].reduce += stretch;
      span->end = next;
      break;
    }
    }

    pcs[r] = i + 1;
    if (i + 1 < st->nops) {
      heap_replace_top(&h, next, r);
    } else {
      stats[r].finish = next;
      heap_pop(&h);
    }
    if (e->red[r] && i == e->last_grad[r]) /* its first ring, now that the stage is queued */
      heap_push(&h, t + e->red[r]->ready[0], P + r);
  }

  finish(e, s, nevents);
  return &e->result;
}
