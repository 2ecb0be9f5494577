/* runtime.c — the memory plan of a stage and forward/backward through it; see runtime.h. */
#define _DEFAULT_SOURCE 1 /* madvise */
#include "runtime.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "error.h"
#include "kernels.h"

#define NONE SIZE_MAX

typedef struct {
  size_t w, nw, b, nb;   /* offsets and counts in the parameter block */
  size_t buf, nbuf;      /* in the buffer block */
  size_t out;            /* output, in a slot's activations */
  size_t saved, isaved;  /* kept state, in a slot's float and int32 activations */
  size_t dact;           /* gradient of the output, in the one gradient block */
  size_t wdout;          /* split backward: the output gradient kept for the weights, in a
                            slot's activations (NONE: the kind does not split) */
  unsigned apart;        /* bit k: input k's gradient is computed apart (in `apart`) and then
                            added, as this layer is not the model's last consumer of it: a sum
                            over consumers adds each one's whole gradient in turn, whichever
                            stages hold them, so a pipeline adds in the one-process order */
  int zero_by;           /* the layer whose backward first adds to dact (the last consumer in
                            the stage), which zeroes it just before, while it is about to be
                            used; -1: zeroed when the backward begins (gradients from later
                            stages add to it, or no layer of the stage does) */
} layer_mem;

struct pc_runtime {
  const pc_model *model;
  int stage, first, last;
  size_t mb;
  int slots;
  GArray *xfers;                 /* pc_xfer, the partition's */
  layer_mem *L;                  /* (last - first) */
  size_t nparams, nbuffers, nacts, niacts, ndacts, nscratch, napart;
  size_t data_off, labels_off;   /* in a slot's acts / iacts; NONE when absent */
  size_t *xact, *xgrad;          /* per transfer, offset in a slot's acts; NONE when absent */
  float *params, *grads, *momentum, *buffers;
  float *second;                 /* AdamW's second moments (NULL for SGD); momentum: its first */
  pc_optim_kind optim;
  float *acts;                   /* (slots, nacts) */
  int32_t *iacts;                /* (slots, niacts) */
  float *dacts;                  /* (ndacts) */
  float *scratch;                /* (nscratch) */
  float *apart;                  /* (PC_LAYER_MAX_INPUTS, napart): see layer_mem.apart */
  double *loss_sum;              /* (slots) */
  double *correct;               /* (slots) */
  float scale;                   /* loss gradient scale of the backward in progress */
  GPtrArray *names;              /* tensor names, see pc_runtime_tensors */
  pc_runtime_hook between;       /* called after each layer of a pass; NULL: none */
  void *between_data;
};

/* ------------------------------------------------------------------------------------------ */
/* The plan: every offset and size, computed without allocating. */

static size_t layer_size(const pc_layer *l, size_t (*f)(const pc_layer *)) {
  return f ? f(l) : 0;
}

static size_t layer_size_n(const pc_layer *l, size_t (*f)(const pc_layer *, size_t), size_t n) {
  return f ? f(l, n) : 0;
}

static void plan(pc_runtime *rt, const pc_model *m, const pc_partition *part, int stage,
                 size_t mb, bool split) {
  rt->model = m;
  rt->stage = stage;
  rt->first = part->first[stage];
  rt->last = part->first[stage + 1];
  rt->mb = mb;
  rt->xfers = pc_partition_transfers(m, part);
  int n = rt->last - rt->first;
  rt->L = g_new0(layer_mem, (size_t)n);
  rt->data_off = rt->labels_off = NONE;
  int *last_use = g_new(int, (size_t)m->nlayers); /* each tensor's last consumer in the model */
  for (int t = 0; t < m->nlayers; t++) last_use[t] = -1;
  for (int j = 0; j < m->nlayers; j++)
    for (int k = 0; k < m->layers[j].ninputs; k++)
      if (m->layers[j].inputs[k] >= 0) last_use[m->layers[j].inputs[k]] = j;
  for (int i = 0; i < n; i++) {
    const pc_layer *l = &m->layers[rt->first + i];
    const pc_layer_ops *ops = pc_layer_ops_of(l->kind);
    layer_mem *lm = &rt->L[i];
    size_t np = (size_t)pc_layer_held_params(l);
    lm->nw = layer_size(l, ops->weight_count);
    lm->nb = np - lm->nw;
    lm->w = rt->nparams;
    lm->b = lm->w + lm->nw;
    rt->nparams += np;
    lm->nbuf = layer_size(l, ops->buffer_count);
    lm->buf = rt->nbuffers;
    rt->nbuffers += lm->nbuf;
    size_t out = mb * (size_t)pc_shape_numel(&l->out);
    lm->out = rt->nacts;
    rt->nacts += out;
    lm->saved = rt->nacts;
    rt->nacts += layer_size_n(l, ops->saved_floats, mb);
    lm->isaved = rt->niacts;
    rt->niacts += layer_size_n(l, ops->saved_ints, mb);
    lm->dact = rt->ndacts;
    rt->ndacts += out;
    lm->wdout = NONE;
    if (split && ops->split && np > 0) {
      lm->wdout = rt->nacts;
      rt->nacts += out;
    }
    rt->nscratch = MAX(rt->nscratch, layer_size_n(l, ops->scratch_floats, mb));
    for (int k = 0; k < l->ninputs; k++) {
      int t = l->inputs[k];
      if (t >= 0 && last_use[t] != rt->first + i) {
        lm->apart |= 1u << k;
        rt->napart = MAX(rt->napart, mb * (size_t)pc_shape_numel(&m->layers[t].out));
      }
      if (l->inputs[k] == -1 && rt->data_off == NONE) {
        rt->data_off = rt->nacts;
        rt->nacts += mb * (size_t)pc_shape_numel(&m->input);
      }
    }
    if (l->kind == PC_LAYER_KIND_SOFTMAX_XENT) {
      rt->labels_off = rt->niacts;
      rt->niacts += mb * (size_t)pc_model_positions(m);
    }
    lm->zero_by = -1;
    for (int k = 0; k < l->ninputs; k++) /* the reverse pass meets the last consumer first */
      if (l->inputs[k] >= rt->first) rt->L[l->inputs[k] - rt->first].zero_by = rt->first + i;
  }
  rt->xact = g_new(size_t, rt->xfers->len);
  rt->xgrad = g_new(size_t, rt->xfers->len);
  for (guint x = 0; x < rt->xfers->len; x++) {
    const pc_xfer *xf = &g_array_index(rt->xfers, pc_xfer, x);
    size_t count = mb * (size_t)xf->bytes / sizeof(float);
    rt->xact[x] = rt->xgrad[x] = NONE;
    if (xf->dst == stage) { /* received activation, gradient to send back */
      rt->xact[x] = rt->nacts;
      rt->nacts += count;
    }
    if (xf->dst == stage || xf->src == stage) {
      rt->xgrad[x] = rt->nacts;
      rt->nacts += count;
    }
    if (xf->src == stage) {
      rt->xact[x] = rt->L[xf->tensor - rt->first].out;
      rt->L[xf->tensor - rt->first].zero_by = -1;
    }
  }
  g_free(last_use);
}

/* Optimizer states per parameter. */
static size_t nstates(pc_optim_kind optim) { return optim == PC_OPTIM_ADAMW ? 2 : 1; }

/* The plan's bytes: parameters, gradients, optimizer state and buffers; what each slot keeps;
 * the gradient and scratch buffers the slots share. */
static size_t param_bytes(const pc_runtime *rt) {
  return sizeof(float) * ((2 + nstates(rt->optim)) * rt->nparams + rt->nbuffers);
}
static size_t slot_bytes(const pc_runtime *rt) {
  return sizeof(float) * rt->nacts + sizeof(int32_t) * rt->niacts;
}
static size_t work_bytes(const pc_runtime *rt) {
  return sizeof(float) * (rt->ndacts + rt->nscratch + PC_LAYER_MAX_INPUTS * rt->napart);
}

static size_t plan_bytes(const pc_runtime *rt, int slots) {
  return param_bytes(rt) + (size_t)slots * slot_bytes(rt) + work_bytes(rt);
}

static void plan_clear(pc_runtime *rt) {
  g_free(rt->L);
  g_free(rt->xact);
  g_free(rt->xgrad);
  if (rt->xfers) g_array_unref(rt->xfers);
}

size_t pc_runtime_bytes(const pc_model *model, const pc_partition *part, int stage, size_t mb,
                        int slots) {
  return pc_runtime_bytes_layout(model, part, stage, mb, slots, NULL);
}

size_t pc_runtime_bytes_layout(const pc_model *model, const pc_partition *part, int stage,
                               size_t mb, int slots, const pc_runtime_layout *layout) {
  pc_runtime rt = {.optim = layout ? layout->optim : PC_OPTIM_SGD};
  plan(&rt, model, part, stage, mb, layout && layout->split);
  size_t bytes = plan_bytes(&rt, slots);
  plan_clear(&rt);
  return bytes;
}

/* ------------------------------------------------------------------------------------------ */
/* Life cycle */

/* The runtime's float blocks (parameters, gradients, momentum, activations), zeroed. Blocks of
 * 2 MiB and more are mapped on their own, start on a 2 MiB boundary and ask for transparent huge
 * pages: a stage's weights are streamed once per microbatch, and with 4 KiB pages every pass
 * walks the page tables (a 4 MB fully connected layer spans 1024 pages, half the CPU's
 * second-level TLB) and the first touch of mlp32's 384 MB takes some 100 000 page faults. A fresh
 * mapping is zero already. free_floats takes the same count. */
#define HUGE_PAGE ((size_t)2 << 20)

static float *alloc_floats(size_t n) {
  if (n == 0) return NULL;
  PC_ASSERT(n <= (SIZE_MAX - HUGE_PAGE) / sizeof(float));
  size_t bytes = n * sizeof(float);
  if (bytes < HUGE_PAGE) return g_malloc0(bytes);
  size_t span = bytes + HUGE_PAGE; /* room to slide to a 2 MiB boundary */
  char *m = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) g_error("out of memory: %zu bytes for the stage's runtime", bytes);
  char *p = (char *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
  size_t head = (size_t)(p - m), tail = span - head - bytes;
  if (head) munmap(m, head);
  if (tail) munmap(p + bytes, tail);
#ifdef MADV_HUGEPAGE
  (void)madvise(p, bytes, MADV_HUGEPAGE); /* advice only */
#endif
  return (float *)p;
}

static void free_floats(float *p, size_t n) {
  if (p == NULL) return;
  if (n * sizeof(float) < HUGE_PAGE) g_free(p);
  else munmap(p, n * sizeof(float));
}

pc_runtime *pc_runtime_new_layout(const pc_model *model, const pc_partition *part, int stage,
                                  size_t mb, int slots, uint64_t seed, size_t max_bytes,
                                  const pc_runtime_layout *layout, GError **error) {
  PC_ASSERT(stage >= 0 && stage < part->nstages && mb > 0 && slots > 0);
  pc_runtime *rt = g_new0(pc_runtime, 1);
  rt->optim = layout ? layout->optim : PC_OPTIM_SGD;
  plan(rt, model, part, stage, mb, layout && layout->split);
  rt->slots = slots;
  size_t bytes = plan_bytes(rt, slots);
  if (max_bytes && bytes > max_bytes) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "stage %d needs %.2f GiB (%.2f GiB of parameters, gradients and optimizer state; "
                "%.2f GiB of activations kept for %d microbatch%s of %zu; %.2f GiB of "
                "gradient and scratch buffers), more than the %.2f GiB available to it",
                stage, bytes / 1073741824.0, param_bytes(rt) / 1073741824.0,
                (double)slots * slot_bytes(rt) / 1073741824.0, slots, slots == 1 ? "" : "es",
                mb, work_bytes(rt) / 1073741824.0, max_bytes / 1073741824.0);
    plan_clear(rt);
    g_free(rt);
    return NULL;
  }
  rt->params = alloc_floats(rt->nparams);
  rt->grads = alloc_floats(rt->nparams);
  rt->momentum = alloc_floats(rt->nparams);
  if (rt->optim == PC_OPTIM_ADAMW) rt->second = alloc_floats(rt->nparams);
  rt->buffers = alloc_floats(rt->nbuffers);
  rt->acts = alloc_floats((size_t)slots * rt->nacts);
  rt->iacts = rt->niacts ? g_malloc0_n((size_t)slots * rt->niacts, sizeof(int32_t)) : NULL;
  rt->dacts = alloc_floats(rt->ndacts);
  rt->scratch = alloc_floats(rt->nscratch);
  rt->apart = alloc_floats(PC_LAYER_MAX_INPUTS * rt->napart);
  rt->loss_sum = g_new0(double, (size_t)slots);
  rt->correct = g_new0(double, (size_t)slots);
  rt->names = g_ptr_array_new_with_free_func(g_free);
  for (int i = rt->first; i < rt->last; i++) {
    const pc_layer *l = &model->layers[i];
    const pc_layer_ops *ops = pc_layer_ops_of(l->kind);
    const layer_mem *lm = &rt->L[i - rt->first];
    if (ops->init)
      ops->init(l, rt->params + lm->w, lm->nb ? rt->params + lm->b : NULL,
                lm->nbuf ? rt->buffers + lm->buf : NULL, seed);
    if (l->tie >= 0) { /* the copy starts as the owner's weight (its bias untouched) */
      const pc_layer *owner = &model->layers[l->tie];
      pc_layer_ops_of(owner->kind)->init(owner, rt->params + lm->w, NULL, NULL, seed);
    }
  }
  return rt;
}

pc_runtime *pc_runtime_new(const pc_model *model, const pc_partition *part, int stage, size_t mb,
                           int slots, uint64_t seed, size_t max_bytes, GError **error) {
  return pc_runtime_new_layout(model, part, stage, mb, slots, seed, max_bytes, NULL, error);
}


void pc_runtime_free(pc_runtime *rt) {
  if (rt == NULL) return;
  free_floats(rt->params, rt->nparams);
  free_floats(rt->grads, rt->nparams);
  free_floats(rt->momentum, rt->nparams);
  free_floats(rt->second, rt->nparams);
  free_floats(rt->buffers, rt->nbuffers);
  free_floats(rt->acts, (size_t)rt->slots * rt->nacts);
  g_free(rt->iacts);
  free_floats(rt->dacts, rt->ndacts);
  free_floats(rt->scratch, rt->nscratch);
  free_floats(rt->apart, PC_LAYER_MAX_INPUTS * rt->napart);
  g_free(rt->loss_sum);
  g_free(rt->correct);
  g_ptr_array_unref(rt->names);
  plan_clear(rt);
  g_free(rt);
}

size_t pc_runtime_param_bytes(const pc_runtime *rt) { return param_bytes(rt); }

size_t pc_runtime_activation_bytes(const pc_runtime *rt) {
  return (size_t)rt->slots * slot_bytes(rt) + work_bytes(rt);
}

const GArray *pc_runtime_transfers(const pc_runtime *rt) {
  return rt->xfers;
}

/* ------------------------------------------------------------------------------------------ */
/* Buffers */

static float *slot_acts(const pc_runtime *rt, int slot) {
  PC_ASSERT(slot >= 0 && slot < rt->slots);
  return rt->acts + (size_t)slot * rt->nacts;
}

float *pc_runtime_xfer_act(pc_runtime *rt, int x, int slot) {
  PC_ASSERT(x >= 0 && (guint)x < rt->xfers->len);
  return rt->xact[x] == NONE ? NULL : slot_acts(rt, slot) + rt->xact[x];
}

float *pc_runtime_xfer_grad(pc_runtime *rt, int x, int slot) {
  PC_ASSERT(x >= 0 && (guint)x < rt->xfers->len);
  return rt->xgrad[x] == NONE ? NULL : slot_acts(rt, slot) + rt->xgrad[x];
}

float *pc_runtime_data(pc_runtime *rt, int slot) {
  return rt->data_off == NONE ? NULL : slot_acts(rt, slot) + rt->data_off;
}

int32_t *pc_runtime_labels(pc_runtime *rt, int slot) {
  PC_ASSERT(slot >= 0 && slot < rt->slots);
  return rt->labels_off == NONE ? NULL : rt->iacts + (size_t)slot * rt->niacts + rt->labels_off;
}

const float *pc_runtime_layer_output(const pc_runtime *rt, int layer, int slot) {
  PC_ASSERT(layer >= rt->first && layer < rt->last);
  return slot_acts(rt, slot) + rt->L[layer - rt->first].out;
}

double pc_runtime_loss_sum(const pc_runtime *rt, int slot) {
  return rt->loss_sum[slot];
}

double pc_runtime_correct(const pc_runtime *rt, int slot) {
  return rt->correct[slot];
}

float *pc_runtime_params(pc_runtime *rt, size_t *count) {
  *count = rt->nparams;
  return rt->params;
}

float *pc_runtime_grads(pc_runtime *rt, size_t *count) {
  *count = rt->nparams;
  return rt->grads;
}

size_t pc_runtime_param_offset(const pc_runtime *rt, int layer) {
  PC_ASSERT(layer >= rt->first && layer <= rt->last);
  return layer == rt->last ? rt->nparams : rt->L[layer - rt->first].w;
}

/* The transfer carrying tensor t into this stage. */
static int xfer_in(const pc_runtime *rt, int t) {
  for (guint x = 0; x < rt->xfers->len; x++) {
    const pc_xfer *xf = &g_array_index(rt->xfers, pc_xfer, x);
    if (xf->tensor == t && xf->dst == rt->stage) return (int)x;
  }
  PC_ASSERT(!"no transfer brings this tensor to the stage");
  return -1;
}

/* Activation and gradient of tensor t as the layers of this stage see it. */
static float *tensor_act(pc_runtime *rt, int t, int slot) {
  if (t < 0) return pc_runtime_data(rt, slot);
  if (t >= rt->first) return slot_acts(rt, slot) + rt->L[t - rt->first].out;
  return pc_runtime_xfer_act(rt, xfer_in(rt, t), slot);
}

static float *tensor_grad(pc_runtime *rt, int t, int slot) {
  if (t < 0) return NULL; /* nobody needs the gradient of the data */
  if (t >= rt->first) return rt->dacts + rt->L[t - rt->first].dact;
  return pc_runtime_xfer_grad(rt, xfer_in(rt, t), slot);
}

static void layer_io(pc_runtime *rt, int layer, int slot, bool train, pc_layer_io *io) {
  const pc_layer *l = &rt->model->layers[layer];
  const layer_mem *lm = &rt->L[layer - rt->first];
  float *acts = slot_acts(rt, slot);
  *io = (pc_layer_io){.n = rt->mb, .train = train};
  for (int k = 0; k < l->ninputs; k++) io->in[k] = tensor_act(rt, l->inputs[k], slot);
  io->out = acts + lm->out;
  io->w = lm->nw ? rt->params + lm->w : NULL;
  io->b = lm->nb ? rt->params + lm->b : NULL;
  io->dw = lm->nw ? rt->grads + lm->w : NULL;
  io->db = lm->nb ? rt->grads + lm->b : NULL;
  io->buf = lm->nbuf ? rt->buffers + lm->buf : NULL;
  io->saved = acts + lm->saved;
  io->isaved = rt->iacts ? rt->iacts + (size_t)slot * rt->niacts + lm->isaved : NULL;
  io->scratch = rt->scratch;
  io->labels = pc_runtime_labels(rt, slot);
  io->dout = rt->dacts + lm->dact;
}

/* ------------------------------------------------------------------------------------------ */
/* Forward, backward, step */

/* No element is an infinity or a NaN; one vectorised pass. */
static bool all_finite(const float *x, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; i++) bad |= pc_nonfinite(x[i]);
  return bad == 0;
}

bool pc_runtime_forward_layer(pc_runtime *rt, int layer, int slot, bool train) {
  pc_layer_io io;
  layer_io(rt, layer, slot, train, &io);
  const pc_layer *l = &rt->model->layers[layer];
  pc_layer_ops_of(l->kind)->forward(l, &io);
  if (l->kind == PC_LAYER_KIND_SOFTMAX_XENT) {
    rt->loss_sum[slot] = io.loss_sum;
    rt->correct[slot] = io.correct;
  }
  return all_finite(io.out, rt->mb * (size_t)pc_shape_numel(&l->out));
}

void pc_runtime_set_between_layers(pc_runtime *rt, pc_runtime_hook hook, void *data) {
  rt->between = hook;
  rt->between_data = data;
}

static inline void between_layers(pc_runtime *rt) {
  if (rt->between) rt->between(rt->between_data);
}

int pc_runtime_forward(pc_runtime *rt, int slot, bool train) {
  int bad = -1;
  for (int i = rt->first; i < rt->last; i++) {
    if (!pc_runtime_forward_layer(rt, i, slot, train) && bad < 0) bad = i;
    between_layers(rt);
  }
  return bad;
}

/* Zero the gradient of layer t's output (t in the stage) before the first contribution. */
static void zero_dact(pc_runtime *rt, int t) {
  size_t n = rt->mb * (size_t)pc_shape_numel(&rt->model->layers[t].out);
  memset(rt->dacts + rt->L[t - rt->first].dact, 0, n * sizeof(float));
}

/* INPUT_ONLY: a split backward's first half; the layer's output gradient is kept in the slot
 * for its weights (pc_runtime_backward_weights). */
static void backward_layer(pc_runtime *rt, int layer, int slot, bool input_only) {
  pc_layer_io io;
  layer_io(rt, layer, slot, true, &io);
  const pc_layer *l = &rt->model->layers[layer];
  const layer_mem *lm = &rt->L[layer - rt->first];
  if (input_only && lm->wdout != NONE) {
    memcpy(slot_acts(rt, slot) + lm->wdout, io.dout,
           rt->mb * (size_t)pc_shape_numel(&l->out) * sizeof(float));
    io.dw = io.db = NULL;
  }
  float *sum[PC_LAYER_MAX_INPUTS] = {NULL};
  for (int k = 0; k < l->ninputs; k++) {
    int t = l->inputs[k];
    io.din[k] = tensor_grad(rt, t, slot);
    if (t >= rt->first && rt->L[t - rt->first].zero_by == layer) zero_dact(rt, t);
    if (io.din[k] && (lm->apart >> k & 1)) { /* its own gradient, added once whole */
      sum[k] = io.din[k];
      io.din[k] = rt->apart + (size_t)k * rt->napart;
      memset(io.din[k], 0, rt->mb * (size_t)pc_shape_numel(&l->in[k]) * sizeof(float));
    }
  }
  io.scale = rt->scale;
  pc_layer_ops_of(l->kind)->backward(l, &io);
  for (int k = 0; k < l->ninputs; k++)
    if (sum[k]) pc_accumulate(sum[k], io.din[k], rt->mb * (size_t)pc_shape_numel(&l->in[k]));
}

void pc_runtime_backward_layer(pc_runtime *rt, int layer, int slot) {
  backward_layer(rt, layer, slot, false);
}

static void backward_pass(pc_runtime *rt, int slot, float scale, bool input_only) {
  pc_runtime_backward_begin(rt, slot, scale);
  for (int i = rt->last; i-- > rt->first;) {
    backward_layer(rt, i, slot, input_only);
    between_layers(rt);
  }
}

void pc_runtime_backward(pc_runtime *rt, int slot, float scale) {
  backward_pass(rt, slot, scale, false);
}

void pc_runtime_backward_input(pc_runtime *rt, int slot, float scale) {
  backward_pass(rt, slot, scale, true);
}

void pc_runtime_backward_input_layer(pc_runtime *rt, int layer, int slot) {
  backward_layer(rt, layer, slot, true);
}

bool pc_runtime_backward_weights_layer(pc_runtime *rt, int layer, int slot) {
  const layer_mem *lm = &rt->L[layer - rt->first];
  if (lm->wdout == NONE) return false;
  pc_layer_io io;
  layer_io(rt, layer, slot, true, &io);
  for (int k = 0; k < PC_LAYER_MAX_INPUTS; k++) io.din[k] = NULL;
  io.dout = slot_acts(rt, slot) + lm->wdout;
  io.scale = rt->scale;
  pc_layer_ops_of(rt->model->layers[layer].kind)->backward(&rt->model->layers[layer], &io);
  return true;
}

void pc_runtime_backward_weights(pc_runtime *rt, int slot) {
  for (int i = rt->last; i-- > rt->first;)
    if (pc_runtime_backward_weights_layer(rt, i, slot)) between_layers(rt);
}

void pc_runtime_backward_begin(pc_runtime *rt, int slot, float scale) {
  rt->scale = scale;
  for (int t = rt->first; t < rt->last; t++) /* the rest: just before their first use */
    if (rt->L[t - rt->first].zero_by < 0) zero_dact(rt, t);
  /* Gradients this stage sends back are sums too: they start from zero. */
  for (guint x = 0; x < rt->xfers->len; x++) {
    const pc_xfer *xf = &g_array_index(rt->xfers, pc_xfer, x);
    if (xf->dst == rt->stage)
      memset(pc_runtime_xfer_grad(rt, (int)x, slot), 0, rt->mb * (size_t)xf->bytes);
  }
  /* Gradients from later stages first, latest consumer first: the order in which the one-process
   * run's reverse pass adds them (transfers are sorted by tensor, then consumer stage). */
  for (guint x = rt->xfers->len; x-- > 0;) {
    const pc_xfer *xf = &g_array_index(rt->xfers, pc_xfer, x);
    if (xf->src != rt->stage) continue;
    pc_accumulate(rt->dacts + rt->L[xf->tensor - rt->first].dact,
                  pc_runtime_xfer_grad(rt, (int)x, slot),
                  rt->mb * (size_t)xf->bytes / sizeof(float));
  }
}

bool pc_runtime_step_layer(pc_runtime *rt, int layer, const pc_optim *o) {
  PC_ASSERT(o->kind == rt->optim);
  const layer_mem *lm = &rt->L[layer - rt->first];
  size_t n = lm->nw + lm->nb;
  if (n == 0) return true;
  return pc_optim_step(o, rt->params + lm->w, rt->momentum + lm->w,
                       rt->second ? rt->second + lm->w : NULL, rt->grads + lm->w, n);
}

double pc_runtime_grad_sum_squares(const pc_runtime *rt, int layer) {
  const layer_mem *lm = &rt->L[layer - rt->first];
  bool tied = rt->model->layers[layer].tie >= 0; /* its weight counts at the owner */
  size_t at = tied ? lm->b : lm->w, n = tied ? lm->nb : lm->nw + lm->nb;
  return n ? pc_sum_squares(rt->grads + at, n) : 0;
}

float *pc_runtime_weight_grad(pc_runtime *rt, int layer, size_t *count) {
  if (layer < rt->first || layer >= rt->last) return NULL;
  const layer_mem *lm = &rt->L[layer - rt->first];
  *count = lm->nw;
  return rt->grads + lm->w;
}

void pc_runtime_tie_grads(pc_runtime *rt) {
  for (int i = rt->first; i < rt->last; i++) {
    int owner = rt->model->layers[i].tie;
    size_t n, m;
    float *a = pc_runtime_weight_grad(rt, i, &n), *b;
    if (owner >= 0 && (b = pc_runtime_weight_grad(rt, owner, &m)) != NULL) {
      PC_ASSERT(n == m);
      pc_tie_sum(b, a, n);
    }
  }
}

pc_optim_kind pc_runtime_optim(const pc_runtime *rt) { return rt->optim; }

int pc_runtime_step(pc_runtime *rt, const pc_optim *o) {
  int bad = -1;
  for (int i = rt->first; i < rt->last; i++) {
    if (!pc_runtime_step_layer(rt, i, o) && bad < 0) bad = i;
    between_layers(rt);
  }
  return bad;
}

/* ------------------------------------------------------------------------------------------ */
/* Named state, for weights files and checkpoints */

int pc_runtime_tensors(pc_runtime *rt, bool optimizer, const char **names, float **data,
                       size_t *counts) {
  /* the passes: parameters and buffers, then each optimizer state */
  static const char *const suffixes[][3] = {[PC_OPTIM_SGD] = {"", ".momentum", NULL},
                                            [PC_OPTIM_ADAMW] = {"", ".exp_avg", ".exp_avg_sq"}};
  int passes = 1 + (int)nstates(rt->optim);
  if (rt->names->len == 0) { /* built on first use: "<layer>.weight", ... */
    for (int pass = 0; pass < passes; pass++) {
      for (int i = rt->first; i < rt->last; i++) {
        const char *ln = rt->model->layers[i].name;
        const layer_mem *lm = &rt->L[i - rt->first];
        const char *suffix = suffixes[rt->optim][pass];
        if (lm->nw) g_ptr_array_add(rt->names, g_strconcat(ln, ".weight", suffix, NULL));
        if (lm->nb) g_ptr_array_add(rt->names, g_strconcat(ln, ".bias", suffix, NULL));
        if (lm->nbuf && !pass) {
          g_ptr_array_add(rt->names, g_strconcat(ln, ".running_mean", NULL));
          g_ptr_array_add(rt->names, g_strconcat(ln, ".running_var", NULL));
        }
      }
    }
  }
  int k = 0;
  for (int pass = 0; pass < (optimizer ? passes : 1); pass++) {
    float *base = pass == 0 ? rt->params : pass == 1 ? rt->momentum : rt->second;
    for (int i = 0; i < rt->last - rt->first; i++) {
      const layer_mem *lm = &rt->L[i];
      /* block, offset, count; a block is only indexed when the count is not 0 (it may be NULL) */
      struct { float *block; size_t at, n; } t[4] = {
        {base, lm->w, lm->nw}, {base, lm->b, lm->nb},
        {rt->buffers, lm->buf, pass ? 0 : lm->nbuf / 2},
        {rt->buffers, lm->buf + lm->nbuf / 2, pass ? 0 : lm->nbuf / 2},
      };
      for (int j = 0; j < 4; j++) {
        if (t[j].n == 0) continue;
        if (names) names[k] = g_ptr_array_index(rt->names, k);
        if (data) data[k] = t[j].block + t[j].at;
        if (counts) counts[k] = t[j].n;
        k++;
      }
    }
  }
  return k;
}
