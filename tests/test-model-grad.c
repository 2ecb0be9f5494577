/* test-model-grad.c — finite-difference gradient check of small whole models through the runtime.
 *
 * The per-kind checks (tests/kernels) test each layer alone; this one tests what the runtime
 * builds from them: the wiring of a whole model (residual joins whose gradients add, batch norm in
 * training mode, whose batch statistics are part of the function, the loss scale). The function
 * is the minibatch's mean loss L = pc_runtime_loss_sum / N of one training forward; the runtime's
 * gradient is the backward with scale 1/N. For every parameter tensor it compares
 *
 *   - the derivative along the tensor's own gradient direction, (L(w + h u) - L(w - h u)) / 2h
 *     with u = g / |g|, against |g| (the strongest signal a tensor gives, so it catches a wrong
 *     scale or sign of the whole tensor); and
 *   - central differences of single elements, at the largest |g| and at a random sample, against
 *     g at those elements.
 *
 * Two things make a difference quotient differ from the derivative besides a wrong gradient.
 * The forward runs in float32, so a quotient carries the rounding of the loss over its step; and
 * ReLU and max pool make the loss piecewise smooth, so a step that crosses a kink measures two
 * slopes. Each quotient is taken at the steps 1e-2, 3e-3 and 1e-3. A side (w + h or w - h) whose
 * forward makes other choices than the forward at w (a ReLU passing other units, a max pool
 * window picking another element) is not used: the central quotient when both sides are smooth,
 * the one-sided quotient from w when one is, no verdict when neither is. A quotient agrees when
 * it is within 2e-2 relative plus 4 float32 ulps of the loss over its span. A check passes when a
 * step agrees, fails when it had usable steps and none agreed, and is skipped when every step
 * crossed kinks; skipped checks, and checks whose gradient is within 10 times the rounding noise,
 * must be a minority, so that the test cannot pass by checking nothing. Batch norm's gamma and
 * beta are moved away from 1 and 0 first, so that their gradients are not trivially right. */
#include <float.h>
#include <glib.h>
#include <math.h>
#include <string.h>

#include "data.h"
#include "kernels.h"
#include "partition.h"
#include "runtime.h"
#include "test-util.h"

#define RTOL 2e-2     /* relative tolerance */
#define ULPS 4.0      /* rounding of a difference of two losses, in float32 ulps of the loss */
#define SAMPLES 4     /* random elements per tensor, besides the largest */

static const double steps[] = {1e-2, 3e-3, 1e-3};
#define NSTEPS (sizeof steps / sizeof steps[0])

typedef struct {
  pc_model *m;
  pc_partition *part;
  pc_runtime *rt;
  size_t n;
  GArray *base; /* int32: the choices of the forward at the unperturbed parameters */
} fixture;

static void fixture_init(fixture *f, const char *file, const char *sets, size_t n,
                         uint64_t seed) {
  GError *error = NULL;
  f->m = pc_test_load(file, sets);
  f->n = n;
  f->part = pc_partition_from_counts(f->m, &f->m->nlayers, 1, &error);
  g_assert_no_error(error);
  f->rt = pc_runtime_new(f->m, f->part, 0, n, 1, seed, 0, &error);
  g_assert_no_error(error);
  int loss = pc_model_loss_layer(f->m);
  g_assert_cmpint(loss, >=, 0);
  pc_dataset *d = pc_model_open_data(f->m, "synthetic", seed, true, &error);
  g_assert_no_error(error);
  pc_dataset_get(d, 0, n, pc_runtime_data(f->rt, 0), pc_runtime_labels(f->rt, 0));
  pc_dataset_free(d);
}

static void fixture_clear(fixture *f) {
  if (f->base) g_array_unref(f->base);
  pc_runtime_free(f->rt);
  pc_partition_free(f->part);
  pc_model_free(f->m);
}

/* ------------------------------------------------------------------------------------------ */
/* Where the loss has kinks */

/* The choices the last forward made, appended to `out`: per ReLU output, whether it passed; per
 * max pool output, the position h*W + w of the element it picked (the first maximum in row-major
 * window order, as the kernel does). */
static void choices(const fixture *f, GArray *out) {
  g_array_set_size(out, 0);
  for (int li = 0; li < f->m->nlayers; li++) {
    const pc_layer *l = &f->m->layers[li];
    const float *y = pc_runtime_layer_output(f->rt, li, 0);
    size_t ny = f->n * (size_t)pc_shape_numel(&l->out);
    if (l->kind == PC_LAYER_KIND_RELU) {
      for (size_t i = 0; i < ny; i++) {
        int32_t passed = y[i] > 0;
        g_array_append_val(out, passed);
      }
    } else if (l->kind == PC_LAYER_KIND_MAXPOOL) {
      const pc_pool_attrs *a = l->attrs;
      const float *x = l->inputs[0] < 0 ? pc_runtime_data(f->rt, 0)
                                        : pc_runtime_layer_output(f->rt, l->inputs[0], 0);
      int64_t H = l->in[0].d[1], W = l->in[0].d[2], OH = l->out.d[1], OW = l->out.d[2];
      for (size_t plane = 0; plane < ny / (size_t)(OH * OW); plane++) {
        const float *xp = x + plane * (size_t)(H * W);
        for (int64_t oh = 0; oh < OH; oh++) {
          for (int64_t ow = 0; ow < OW; ow++) {
            float v = y[plane * (size_t)(OH * OW) + (size_t)(oh * OW + ow)];
            int32_t pick = -1;
            for (int64_t kh = 0; kh < a->k && pick < 0; kh++) {
              for (int64_t kw = 0; kw < a->k && pick < 0; kw++) {
                int64_t h = oh * a->stride + kh - a->pad, w = ow * a->stride + kw - a->pad;
                if (h >= 0 && h < H && w >= 0 && w < W && xp[h * W + w] == v)
                  pick = (int32_t)(h * W + w);
              }
            }
            g_array_append_val(out, pick);
          }
        }
      }
    }
  }
}

/* Whether the last forward made the same choices as the forward at the unperturbed point. */
static bool same_choices(const fixture *f) {
  GArray *now = g_array_new(FALSE, FALSE, sizeof(int32_t));
  choices(f, now);
  bool same = now->len == f->base->len &&
              (now->len == 0 || /* no data to compare (NULL) */
               memcmp(now->data, f->base->data, now->len * sizeof(int32_t)) == 0);
  g_array_unref(now);
  return same;
}

/* ------------------------------------------------------------------------------------------ */
/* Difference quotients */

/* L at the runtime's current parameters; *smooth is whether the forward made the same choices as
 * the one at the unperturbed point. */
static double loss(fixture *f, bool *smooth) {
  pc_runtime_forward(f->rt, 0, true);
  if (smooth) *smooth = same_choices(f);
  return pc_runtime_loss_sum(f->rt, 0) / (double)f->n;
}

/* What a quotient perturbs: a tensor (count floats at w, unperturbed values w0) along the unit
 * direction u, or, with u NULL, its element i; a tied weight's other copy (twin, or NULL)
 * moves with it. */
typedef struct {
  float *w, *twin;
  const float *w0;
  size_t count;
  const double *u;
  size_t i;
} probe;

/* L with the probe's tensor moved by t; *taken is the move actually made (for an element, after
 * rounding the weight to float). The tensor is restored afterwards. */
static double moved_loss(fixture *f, const probe *p, double t, bool *smooth, double *taken) {
  if (p->u) {
    for (size_t j = 0; j < p->count; j++) p->w[j] = (float)(p->w0[j] + t * p->u[j]);
    *taken = t;
  } else {
    p->w[p->i] = (float)(p->w0[p->i] + t);
    *taken = (double)p->w[p->i] - p->w0[p->i];
  }
  if (p->twin) memcpy(p->twin, p->w, p->count * sizeof(float));
  double l = loss(f, smooth);
  memcpy(p->w, p->w0, p->count * sizeof(float));
  if (p->twin) memcpy(p->twin, p->w0, p->count * sizeof(float));
  return l;
}

typedef enum { QUOTIENT_AGREES, QUOTIENT_DISAGREES, QUOTIENT_KINKED } quotient_verdict;

/* Compares g with difference quotients of the probe at the steps in turn. At each step the
 * central quotient is used when neither side crosses a kink, else the one-sided quotient of the
 * side that does not (its truncation error is O(h) instead of O(h^2)); a step where both sides
 * cross gives no verdict. A quotient agrees when it is within RTOL relative plus its rounding
 * noise: ULPS float32 ulps of the loss l0 over the distance between its two points. *fd and
 * *noise receive the last usable quotient and its noise. */
static quotient_verdict check_quotient(fixture *f, const probe *p, double l0, double g,
                                       double *fd, double *noise) {
  quotient_verdict v = QUOTIENT_KINKED;
  double ulp = fabs(l0) * FLT_EPSILON;
  for (size_t k = 0; k < NSTEPS; k++) {
    double h = steps[k], hp, hm, q, span;
    bool sp, sm;
    double plus = moved_loss(f, p, h, &sp, &hp);
    double minus = moved_loss(f, p, -h, &sm, &hm);
    if (sp && sm) {
      span = hp - hm;
      q = (plus - minus) / span;
    } else if (sp || sm) {
      span = sp ? hp : -hm;
      q = sp ? (plus - l0) / span : (l0 - minus) / span;
    } else {
      continue;
    }
    *fd = q;
    *noise = ULPS * ulp / span;
    if (fabs(q - g) <= RTOL * MAX(fabs(q), fabs(g)) + *noise) return QUOTIENT_AGREES;
    v = QUOTIENT_DISAGREES;
  }
  return v;
}

/* The layer a tensor name "<layer>.<what>" belongs to. */
static int tensor_layer(const fixture *f, const char *name) {
  char *layer = g_strndup(name, (size_t)(strrchr(name, '.') - name));
  int li = pc_model_find(f->m, layer);
  g_free(layer);
  g_assert_cmpint(li, >=, 0);
  return li;
}

/* Moves batch norm's gamma and beta away from 1 and 0. */
static void jitter_bn(const fixture *f, int nt, const char **names, float **data,
                      const size_t *counts) {
  for (int k = 0; k < nt; k++) {
    if (f->m->layers[tensor_layer(f, names[k])].kind != PC_LAYER_KIND_BN) continue;
    if (g_str_has_suffix(names[k], ".weight"))
      pc_fill_uniform(data[k], counts[k], 0.5f, 1.5f, pc_rng_key(3, names[k]), 0);
    else if (g_str_has_suffix(names[k], ".bias"))
      pc_fill_uniform(data[k], counts[k], -0.5f, 0.5f, pc_rng_key(3, names[k]), 0);
  }
}

/* The other copy of tensor k when it is a tied weight's owner (the embedding's), else NULL;
 * *copy is whether tensor k is itself the copy a tied layer holds. */
static float *tied_twin(const fixture *f, int nt, const char **names, float **data, int k,
                        bool *copy) {
  int li = tensor_layer(f, names[k]);
  *copy = f->m->layers[li].tie >= 0 && g_str_has_suffix(names[k], ".weight");
  if (!g_str_has_suffix(names[k], ".weight")) return NULL;
  for (int j = 0; j < nt; j++)
    if (g_str_has_suffix(names[j], ".weight") && f->m->layers[tensor_layer(f, names[j])].tie == li)
      return data[j];
  return NULL;
}

static void check_model(const char *file, const char *sets, size_t n) {
  fixture f;
  fixture_init(&f, file, sets, n, 7);
  int nt = pc_runtime_tensors(f.rt, false, NULL, NULL, NULL);
  const char **names = g_new(const char *, (size_t)nt);
  float **data = g_new(float *, (size_t)nt);
  size_t *counts = g_new(size_t, (size_t)nt);
  pc_runtime_tensors(f.rt, false, names, data, counts);
  jitter_bn(&f, nt, names, data, counts);

  /* The runtime's gradient, copied (the difference quotients run more forwards), and the choices
   * of its forward. */
  size_t np;
  float *params = pc_runtime_params(f.rt, &np);
  double l0 = loss(&f, NULL);
  f.base = g_array_new(FALSE, FALSE, sizeof(int32_t));
  choices(&f, f.base);
  pc_runtime_backward(f.rt, 0, 1.0f / (float)f.n);
  pc_runtime_tie_grads(f.rt);
  float *grads = g_memdup2(pc_runtime_grads(f.rt, &np), np * sizeof(float));

  GRand *rand = g_rand_new_with_seed(11);
  int tensors = 0, agreed = 0, failed = 0, kinked = 0, significant = 0;
  for (int k = 0; k < nt; k++) {
    if (data[k] < params || data[k] >= params + np) continue; /* a buffer */
    bool copy;
    float *twin = tied_twin(&f, nt, names, data, k, &copy);
    if (copy) continue; /* checked with its owner, the two moving together */
    tensors++;
    const float *g = grads + (data[k] - params);
    size_t count = counts[k];
    float *w0 = g_memdup2(data[k], count * sizeof(float));
    double norm = 0;
    size_t top = 0;
    for (size_t i = 0; i < count; i++) {
      norm += (double)g[i] * g[i];
      if (fabsf(g[i]) > fabsf(g[top])) top = i;
    }
    norm = sqrt(norm);

    /* s == -1: along the gradient; 0: the largest element; then random elements. */
    for (int s = norm > 0 ? -1 : 0; s <= SAMPLES; s++) {
      double *u = NULL, want, fd = 0, noise = 0;
      size_t i = 0;
      if (s < 0) {
        u = g_new(double, count);
        for (size_t j = 0; j < count; j++) u[j] = g[j] / norm;
        want = norm;
      } else {
        i = s == 0 ? top : (size_t)g_rand_int_range(rand, 0, (gint32)count);
        want = g[i];
      }
      probe p = {data[k], twin, w0, count, u, i};
      quotient_verdict v = check_quotient(&f, &p, l0, want, &fd, &noise);
      g_free(u);
      if (v == QUOTIENT_KINKED) {
        kinked++;
        continue;
      }
      significant += fabs(want) > 10 * noise;
      if (v == QUOTIENT_AGREES) {
        agreed++;
      } else {
        failed++;
        if (s < 0)
          g_test_message("%s: %s: derivative along the gradient %.6g by differences, %.6g by "
                         "backward", file, names[k], fd, want);
        else
          g_test_message("%s: %s[%zu]: %.6g by differences, %.6g by backward", file, names[k],
                         i, fd, want);
      }
    }
    g_free(w0);
  }
  g_test_message("%s: %d tensors; %d checks agree, %d disagree, %d skipped at kinks; %d on "
                 "gradients above 10 times the rounding noise", file, tensors, agreed, failed,
                 kinked, significant);
  g_assert_cmpint(failed, ==, 0);
  /* A check that every kink skips, or of gradients that are all about zero, would pass whatever
   * backward did. */
  g_assert_cmpint(tensors, >, 0);
  g_assert_cmpint(kinked, <=, (agreed + failed) / 2);
  g_assert_cmpint(significant, >=, (agreed + failed) / 2);

  g_rand_free(rand);
  g_free(grads);
  g_free(names);
  g_free(data);
  g_free(counts);
  fixture_clear(&f);
}

static void test_tiny_mlp(void) {
  check_model("tiny-mlp.model", NULL, 4);
}

static void test_tiny_cnn(void) {
  check_model("tiny-cnn.model", NULL, 4);
}

static void test_tiny_resnet(void) {
  check_model("tiny-resnet.model", NULL, 3);
}

/* Embedding, attention, the loss at every position and the head tied to the embedding. */
static void test_tiny_gpt(void) {
  check_model("gpt2.model", "n_layer=2,n_head=2,n_embd=16,seq=8,vocab=24", 3);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/model/grad/tiny-mlp", test_tiny_mlp);
  g_test_add_func("/model/grad/tiny-cnn", test_tiny_cnn);
  g_test_add_func("/model/grad/tiny-resnet", test_tiny_resnet);
  g_test_add_func("/model/grad/tiny-gpt", test_tiny_gpt);
  return g_test_run();
}
