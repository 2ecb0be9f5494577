/* test-kernels.c — unit tests of the layer kernels in common/kernels.
 *
 * For every kind: forward values against naive double-precision loops, and a central
 * finite-difference check of every gradient the backward writes. The FD checks project the
 * output on a fixed random tensor R (loss = sum(out * R), so dout = R), pre-fill every gradient
 * buffer with random values and subtract them afterwards, so a backward that overwrites instead of
 * accumulating fails too. Inputs of ReLU and max pool are kept away from kinks and ties. Then the
 * softmax-xent scale semantics over microbatches, SGD against hand-computed torch steps, and the
 * determinism and range of initialisation. */
#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "vmath.h"

/* PyTorch's default layer initialisation: weight bound 1/sqrt(fan_in). */
#define TORCH_GAIN ((float)(1.0 / 1.7320508075688772))

/* ------------------------------------------------------------------------------------------ */
/* helpers */

static uint64_t test_seed = 1234;

static float *randn_buf(size_t n, const char *name, float lo, float hi) {
  float *x = g_new(float, n ? n : 1);
  pc_fill_uniform(x, n, lo, hi, pc_rng_key(test_seed, name), 0);
  return x;
}

static float *copy_buf(const float *x, size_t n) {
  float *y = g_new(float, n ? n : 1);
  memcpy(y, x, n * sizeof(float));
  return y;
}

// max |a - b| <= atol + rtol * |b| elementwise; reports the first offender.
static void assert_close(const char *what, const float *a, const double *b, size_t n, double atol,
                         double rtol) {
  for (size_t i = 0; i < n; i++) {
    double err = fabs((double)a[i] - b[i]);
    if (!(err <= atol + rtol * fabs(b[i]))) {
      g_test_message("%s[%zu]: got %.8g, want %.8g (err %.3g)", what, i, (double)a[i], b[i], err);
      g_test_fail();
      return;
    }
  }
}

static double dot(const float *a, const float *b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
  return s;
}

// A forward pass that reads whatever buffers the context points at and writes `out`.
typedef void (*forward_fn)(void *ctx, float *out);

// Central finite differences of loss = sum(out * R) with respect to x[i] for up to `probes`
// indices spread over x, compared with grad[i] (the analytic gradient, already with the pre-fill
// subtracted). The tolerance is relative to the largest analytic gradient.
static void check_fd(const char *what, float *x, size_t nx, const float *grad, void *ctx,
                     forward_fn fwd, float *out, const float *R, size_t nout, float h,
                     size_t probes, double rtol) {
  double gmax = 0.0;
  for (size_t i = 0; i < nx; i++) gmax = fmax(gmax, fabs(grad[i]));
  g_assert_cmpfloat(gmax, >, 0.0); // a kernel that writes nothing must not pass
  size_t step = nx > probes ? nx / probes : 1;
  for (size_t i = step / 2; i < nx; i += step) {
    float saved = x[i];
    x[i] = saved + h;
    fwd(ctx, out);
    double lp = dot(out, R, nout);
    x[i] = saved - h;
    fwd(ctx, out);
    double lm = dot(out, R, nout);
    x[i] = saved;
    double num = (lp - lm) / (2.0 * (double)h);
    double err = fabs(num - grad[i]);
    if (!(err <= rtol * (gmax + fabs(num)))) {
      g_test_message("%s[%zu]: analytic %.8g, numeric %.8g", what, i, (double)grad[i], num);
      g_test_fail();
      return;
    }
  }
}

// grad -= prefill: what the backward added on top of the pre-filled values.
static void sub_prefill(float *grad, const float *prefill, size_t n) {
  for (size_t i = 0; i < n; i++) grad[i] -= prefill[i];
}

/* ------------------------------------------------------------------------------------------ */
/* fully connected */

typedef struct {
  float *in, *w, *b;
  size_t N, IN, OUT;
} fc_ctx;

static void fc_fwd(void *p, float *out) {
  fc_ctx *c = p;
  pc_fc_forward(out, c->in, c->w, c->b, c->N, c->IN, c->OUT);
}

static void test_fc_forward(void) {
  size_t N = 5, IN = 7, OUT = 3;
  float *in = randn_buf(N * IN, "fc.in", -1, 1), *w = randn_buf(OUT * IN, "fc.w", -1, 1);
  float *b = randn_buf(OUT, "fc.b", -1, 1), *out = g_new(float, N * OUT);
  double *ref = g_new(double, N * OUT);
  for (int with_bias = 0; with_bias < 2; with_bias++) {
    for (size_t n = 0; n < N; n++)
      for (size_t o = 0; o < OUT; o++) {
        double s = with_bias ? b[o] : 0.0;
        for (size_t i = 0; i < IN; i++) s += (double)in[n * IN + i] * w[o * IN + i];
        ref[n * OUT + o] = s;
      }
    pc_fc_forward(out, in, w, with_bias ? b : NULL, N, IN, OUT);
    assert_close("fc out", out, ref, N * OUT, 1e-5, 1e-5);
  }
  g_free(in), g_free(w), g_free(b), g_free(out), g_free(ref);
}

static void test_fc_backward(void) {
  fc_ctx c = {.N = 4, .IN = 6, .OUT = 5};
  size_t N = c.N, IN = c.IN, OUT = c.OUT;
  c.in = randn_buf(N * IN, "fc.in", -1, 1);
  c.w = randn_buf(OUT * IN, "fc.w", -1, 1);
  c.b = randn_buf(OUT, "fc.b", -1, 1);
  float *R = randn_buf(N * OUT, "fc.R", -1, 1), *out = g_new(float, N * OUT);
  float *pin = randn_buf(N * IN, "fc.pin", -1, 1), *pw = randn_buf(OUT * IN, "fc.pw", -1, 1);
  float *pb = randn_buf(OUT, "fc.pb", -1, 1);
  float *din = copy_buf(pin, N * IN), *dw = copy_buf(pw, OUT * IN), *db = copy_buf(pb, OUT);
  pc_fc_backward(din, dw, db, R, c.in, c.w, N, IN, OUT);
  sub_prefill(din, pin, N * IN), sub_prefill(dw, pw, OUT * IN), sub_prefill(db, pb, OUT);
  check_fd("fc din", c.in, N * IN, din, &c, fc_fwd, out, R, N * OUT, 1e-2f, 1000, 1e-3);
  check_fd("fc dw", c.w, OUT * IN, dw, &c, fc_fwd, out, R, N * OUT, 1e-2f, 1000, 1e-3);
  check_fd("fc db", c.b, OUT, db, &c, fc_fwd, out, R, N * OUT, 1e-2f, 1000, 1e-3);
  // without bias and input gradient: dw alone, still accumulating
  float *dw2 = copy_buf(pw, OUT * IN);
  pc_fc_backward(NULL, dw2, NULL, R, c.in, c.w, N, IN, OUT);
  sub_prefill(dw2, pw, OUT * IN);
  for (size_t i = 0; i < OUT * IN; i++) g_assert_cmpfloat_with_epsilon(dw2[i], dw[i], 1e-5);
  g_free(c.in), g_free(c.w), g_free(c.b), g_free(R), g_free(out), g_free(pin), g_free(pw);
  g_free(pb), g_free(din), g_free(dw), g_free(db), g_free(dw2);
}

/* Row counts on both sides of the streaming paths' limits, inputs with full lane vectors and a
 * tail, outputs not a multiple of four: forward and input gradient against double sums; where the
 * CPU streams, each row alone gives the bits it gives in the batch. */
static void test_fc_rows(void) {
  const size_t IN = 53, OUT = 11, ns[] = {1, 3, 4, 5, 8, 9, 16, 17, 32, 33};
  for (size_t t = 0; t < G_N_ELEMENTS(ns); t++) {
    size_t N = ns[t];
    float *in = randn_buf(N * IN, "rows.in", -1, 1), *w = randn_buf(OUT * IN, "rows.w", -1, 1);
    float *b = randn_buf(OUT, "rows.b", -1, 1), *dout = randn_buf(N * OUT, "rows.dout", -1, 1);
    float *pin = randn_buf(N * IN, "rows.pin", -1, 1), *din = copy_buf(pin, N * IN);
    float *out = g_new(float, N * OUT), *one = g_new(float, OUT), *done = g_new(float, IN);
    double *ref = g_new(double, N * OUT), *dref = g_new(double, N * IN);
    for (size_t n = 0; n < N; n++) {
      for (size_t o = 0; o < OUT; o++) {
        double s = b[o];
        for (size_t i = 0; i < IN; i++) s += (double)in[n * IN + i] * w[o * IN + i];
        ref[n * OUT + o] = s;
      }
      for (size_t i = 0; i < IN; i++) {
        double s = pin[n * IN + i];
        for (size_t o = 0; o < OUT; o++) s += (double)dout[n * OUT + o] * w[o * IN + i];
        dref[n * IN + i] = s;
      }
    }
    pc_fc_forward(out, in, w, b, N, IN, OUT);
    assert_close("fc rows out", out, ref, N * OUT, 1e-5, 1e-5);
    pc_fc_backward(din, NULL, NULL, dout, in, w, N, IN, OUT);
    assert_close("fc rows din", din, dref, N * IN, 1e-5, 1e-5);
    for (size_t n = 0; n < N && pc_fc_streams(); n++) {
      if (N <= PC_FC_STREAM_FWD_ROWS) {
        pc_fc_forward(one, in + n * IN, w, b, 1, IN, OUT);
        g_assert_cmpmem(one, OUT * sizeof(float), out + n * OUT, OUT * sizeof(float));
      }
      if (N <= PC_FC_STREAM_DIN_ROWS) {
        memcpy(done, pin + n * IN, IN * sizeof(float));
        pc_fc_backward(done, NULL, NULL, dout + n * OUT, in + n * IN, w, 1, IN, OUT);
        g_assert_cmpmem(done, IN * sizeof(float), din + n * IN, IN * sizeof(float));
      }
    }
    g_free(in), g_free(w), g_free(b), g_free(dout), g_free(pin), g_free(din), g_free(out);
    g_free(one), g_free(done), g_free(ref), g_free(dref);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* conv */

typedef struct {
  size_t N, IC, H, W, OC, K, stride, pad;
  bool bias;
} conv_case;

// Direct 7-loop convolution in double.
static void conv_naive(double *out, const float *in, const float *w, const float *b,
                       const conv_case *g) {
  size_t OH = pc_window_out_size(g->H, g->K, g->stride, g->pad);
  size_t OW = pc_window_out_size(g->W, g->K, g->stride, g->pad);
  for (size_t n = 0; n < g->N; n++)
    for (size_t oc = 0; oc < g->OC; oc++)
      for (size_t oh = 0; oh < OH; oh++)
        for (size_t ow = 0; ow < OW; ow++) {
          double s = b != NULL ? b[oc] : 0.0;
          for (size_t ic = 0; ic < g->IC; ic++)
            for (size_t kh = 0; kh < g->K; kh++)
              for (size_t kw = 0; kw < g->K; kw++) {
                long ih = (long)(oh * g->stride + kh) - (long)g->pad;
                long iw = (long)(ow * g->stride + kw) - (long)g->pad;
                if (ih < 0 || iw < 0 || ih >= (long)g->H || iw >= (long)g->W) continue;
                s += (double)in[((n * g->IC + ic) * g->H + (size_t)ih) * g->W + (size_t)iw] *
                     w[((oc * g->IC + ic) * g->K + kh) * g->K + kw];
              }
          out[((n * g->OC + oc) * OH + oh) * OW + ow] = s;
        }
}

// The adjoint loops of conv_naive: din, dw, db of loss = sum(out * dout), in double.
static void conv_naive_backward(double *din, double *dw, double *db, const float *dout,
                                const float *in, const float *w, const conv_case *g) {
  size_t OH = pc_window_out_size(g->H, g->K, g->stride, g->pad);
  size_t OW = pc_window_out_size(g->W, g->K, g->stride, g->pad);
  memset(din, 0, g->N * g->IC * g->H * g->W * sizeof(double));
  memset(dw, 0, g->OC * g->IC * g->K * g->K * sizeof(double));
  memset(db, 0, g->OC * sizeof(double));
  for (size_t n = 0; n < g->N; n++)
    for (size_t oc = 0; oc < g->OC; oc++)
      for (size_t oh = 0; oh < OH; oh++)
        for (size_t ow = 0; ow < OW; ow++) {
          double go = dout[((n * g->OC + oc) * OH + oh) * OW + ow];
          db[oc] += go;
          for (size_t ic = 0; ic < g->IC; ic++)
            for (size_t kh = 0; kh < g->K; kh++)
              for (size_t kw = 0; kw < g->K; kw++) {
                long ih = (long)(oh * g->stride + kh) - (long)g->pad;
                long iw = (long)(ow * g->stride + kw) - (long)g->pad;
                if (ih < 0 || iw < 0 || ih >= (long)g->H || iw >= (long)g->W) continue;
                size_t ii = ((n * g->IC + ic) * g->H + (size_t)ih) * g->W + (size_t)iw;
                size_t wi = ((oc * g->IC + ic) * g->K + kh) * g->K + kw;
                din[ii] += go * w[wi];
                dw[wi] += go * in[ii];
              }
        }
}

// Geometries: 1x1 (direct and strided), 3x3 s1 p1, 3x3 s2 p1, 7x7 s2 p3, 5x5 unpadded on a
// non-square input, 2x2 s2, 3x3 on 1x1; and, for conv.c's tiling (with its default tile sizes),
// planes cut into bands of rows (3x3, 3x3 s2, 7x7 s2, direct 1x1), several whole samples per
// tile with a partial last tile, and the whole batch in one tile.
static const conv_case conv_cases[] = {
    {3, 4, 6, 6, 5, 1, 1, 0, true},       {3, 4, 7, 7, 5, 1, 2, 0, false},
    {2, 3, 8, 8, 4, 3, 1, 1, true},       {2, 3, 9, 9, 4, 3, 2, 1, true},
    {2, 3, 15, 15, 4, 7, 2, 3, false},    {2, 2, 9, 7, 3, 5, 1, 0, true},
    {2, 3, 8, 8, 2, 2, 2, 0, true},       {5, 6, 1, 1, 4, 3, 1, 1, true},
    {2, 64, 20, 20, 3, 3, 1, 1, true},    {2, 64, 40, 40, 3, 3, 2, 1, false},
    {2, 8, 40, 40, 3, 7, 2, 3, true},     {2, 256, 32, 32, 3, 1, 1, 0, true},
    {40, 64, 4, 4, 3, 3, 1, 1, true},     {300, 256, 2, 2, 3, 1, 1, 0, false},
    {300, 2, 4, 4, 3, 3, 2, 1, true},     {1030, 3, 1, 1, 2, 1, 1, 0, true},
};

static void test_conv_forward(void) {
  for (size_t t = 0; t < G_N_ELEMENTS(conv_cases); t++) {
    const conv_case *g = &conv_cases[t];
    size_t OH = pc_window_out_size(g->H, g->K, g->stride, g->pad);
    size_t OW = pc_window_out_size(g->W, g->K, g->stride, g->pad);
    size_t nin = g->N * g->IC * g->H * g->W, nout = g->N * g->OC * OH * OW;
    size_t nw = g->OC * g->IC * g->K * g->K;
    float *in = randn_buf(nin, "conv.in", -1, 1), *w = randn_buf(nw, "conv.w", -1, 1);
    float *b = randn_buf(g->OC, "conv.b", -1, 1), *out = g_new(float, nout);
    float *scratch = g_new(float, pc_conv_scratch_floats(g->N, g->IC, g->H, g->W, g->OC, g->K,
                                                          g->stride, g->pad) + 1);
    double *ref = g_new(double, nout);
    conv_naive(ref, in, w, g->bias ? b : NULL, g);
    pc_conv_forward(out, in, w, g->bias ? b : NULL, scratch, g->N, g->IC, g->H, g->W, g->OC, g->K,
                    g->stride, g->pad);
    char what[64];
    g_snprintf(what, sizeof what, "conv case %zu out", t);
    assert_close(what, out, ref, nout, 1e-4, 1e-4);
    g_free(in), g_free(w), g_free(b), g_free(out), g_free(scratch), g_free(ref);
  }
}

static void test_conv_backward_naive(void) {
  for (size_t t = 0; t < G_N_ELEMENTS(conv_cases); t++) {
    const conv_case *g = &conv_cases[t];
    size_t OH = pc_window_out_size(g->H, g->K, g->stride, g->pad);
    size_t OW = pc_window_out_size(g->W, g->K, g->stride, g->pad);
    size_t nin = g->N * g->IC * g->H * g->W, nout = g->N * g->OC * OH * OW;
    size_t nw = g->OC * g->IC * g->K * g->K;
    float *in = randn_buf(nin, "conv.in", -1, 1), *w = randn_buf(nw, "conv.w", -1, 1);
    float *dout = randn_buf(nout, "conv.dout", -1, 1);
    float *pin = randn_buf(nin, "conv.pin", -1, 1), *pw = randn_buf(nw, "conv.pw", -1, 1);
    float *pb = randn_buf(g->OC, "conv.pb", -1, 1);
    float *din = copy_buf(pin, nin), *dw = copy_buf(pw, nw), *db = copy_buf(pb, g->OC);
    float *scratch = g_new(float, pc_conv_scratch_floats(g->N, g->IC, g->H, g->W, g->OC, g->K,
                                                          g->stride, g->pad) + 1);
    pc_conv_backward(din, dw, g->bias ? db : NULL, dout, in, w, scratch, g->N, g->IC, g->H, g->W,
                     g->OC, g->K, g->stride, g->pad);
    sub_prefill(din, pin, nin), sub_prefill(dw, pw, nw), sub_prefill(db, pb, g->OC);
    double *rin = g_new(double, nin), *rw = g_new(double, nw), *rb = g_new(double, g->OC);
    conv_naive_backward(rin, rw, rb, dout, in, w, g);
    char what[64];
    g_snprintf(what, sizeof what, "conv case %zu din", t);
    assert_close(what, din, rin, nin, 1e-4, 1e-4);
    g_snprintf(what, sizeof what, "conv case %zu dw", t);
    assert_close(what, dw, rw, nw, 1e-3, 1e-4);
    if (g->bias) {
      g_snprintf(what, sizeof what, "conv case %zu db", t);
      assert_close(what, db, rb, g->OC, 1e-3, 1e-4);
    } else {
      for (size_t i = 0; i < g->OC; i++) g_assert_cmpfloat(db[i], ==, 0.0f); // NULL: untouched
    }
    // din == NULL leaves the weight gradient the same
    float *dw2 = copy_buf(pw, nw);
    pc_conv_backward(NULL, dw2, NULL, dout, in, w, scratch, g->N, g->IC, g->H, g->W, g->OC, g->K,
                     g->stride, g->pad);
    sub_prefill(dw2, pw, nw);
    for (size_t i = 0; i < nw; i++) g_assert_cmpfloat_with_epsilon(dw2[i], dw[i], 1e-4);
    g_free(in), g_free(w), g_free(dout), g_free(pin), g_free(pw), g_free(pb), g_free(din);
    g_free(dw), g_free(db), g_free(scratch), g_free(rin), g_free(rw), g_free(rb), g_free(dw2);
  }
}

typedef struct {
  const conv_case *g;
  float *in, *w, *b, *scratch;
} conv_ctx;

static void conv_fwd(void *p, float *out) {
  conv_ctx *c = p;
  const conv_case *g = c->g;
  pc_conv_forward(out, c->in, c->w, c->b, c->scratch, g->N, g->IC, g->H, g->W, g->OC, g->K,
                  g->stride, g->pad);
}

static void test_conv_backward(void) {
  static const conv_case fd_cases[] = {
      {2, 3, 6, 6, 4, 3, 1, 1, true},  {2, 2, 7, 7, 3, 3, 2, 1, true},
      {2, 2, 9, 9, 2, 7, 2, 3, true},  {3, 3, 5, 5, 4, 1, 1, 0, true},
      {40, 2, 3, 3, 2, 3, 2, 1, true}, {2, 64, 20, 20, 2, 3, 1, 1, true},
      {20, 64, 4, 4, 2, 3, 1, 1, true},
  };
  for (size_t t = 0; t < G_N_ELEMENTS(fd_cases); t++) {
    const conv_case *g = &fd_cases[t];
    size_t OH = pc_window_out_size(g->H, g->K, g->stride, g->pad);
    size_t OW = pc_window_out_size(g->W, g->K, g->stride, g->pad);
    size_t nin = g->N * g->IC * g->H * g->W, nout = g->N * g->OC * OH * OW;
    size_t nw = g->OC * g->IC * g->K * g->K;
    conv_ctx c = {.g = g};
    c.in = randn_buf(nin, "conv.in", -1, 1);
    c.w = randn_buf(nw, "conv.w", -1, 1);
    c.b = randn_buf(g->OC, "conv.b", -1, 1);
    c.scratch = g_new(float, pc_conv_scratch_floats(g->N, g->IC, g->H, g->W, g->OC, g->K,
                                                     g->stride, g->pad) + 1);
    float *R = randn_buf(nout, "conv.R", -1, 1), *out = g_new(float, nout);
    float *pin = randn_buf(nin, "conv.pin", -1, 1), *pw = randn_buf(nw, "conv.pw", -1, 1);
    float *pb = randn_buf(g->OC, "conv.pb", -1, 1);
    float *din = copy_buf(pin, nin), *dw = copy_buf(pw, nw), *db = copy_buf(pb, g->OC);
    pc_conv_backward(din, dw, db, R, c.in, c.w, c.scratch, g->N, g->IC, g->H, g->W, g->OC, g->K,
                     g->stride, g->pad);
    sub_prefill(din, pin, nin), sub_prefill(dw, pw, nw), sub_prefill(db, pb, g->OC);
    check_fd("conv din", c.in, nin, din, &c, conv_fwd, out, R, nout, 1e-2f, 150, 2e-3);
    check_fd("conv dw", c.w, nw, dw, &c, conv_fwd, out, R, nout, 1e-2f, 150, 2e-3);
    check_fd("conv db", c.b, g->OC, db, &c, conv_fwd, out, R, nout, 1e-2f, 150, 2e-3);
    g_free(c.in), g_free(c.w), g_free(c.b), g_free(c.scratch), g_free(R), g_free(out);
    g_free(pin), g_free(pw), g_free(pb), g_free(din), g_free(dw), g_free(db);
  }
}

// im2col against its definition, and col2im as its adjoint (<im2col(x), y> == <x, col2im(y)>),
// for whole planes and bands of output rows, on both of im2col.c's paths: stride 1 with "same"
// padding (block copies) and the rest (row by row), down to 2x2 and 1x1 planes.
static void test_im2col(void) {
  static const size_t geo[][5] = {
      // H, W, K, stride, pad
      {7, 6, 3, 2, 1}, {6, 6, 3, 1, 1}, {7, 5, 5, 1, 2}, {5, 4, 1, 1, 0}, {6, 7, 3, 1, 0},
      {2, 2, 3, 1, 1}, {1, 1, 3, 1, 1}, {9, 9, 7, 2, 3}, {4, 4, 1, 2, 0},
  };
  size_t nimg = 3, IC = 2;
  for (size_t t = 0; t < G_N_ELEMENTS(geo); t++) {
    size_t H = geo[t][0], W = geo[t][1], K = geo[t][2], stride = geo[t][3], pad = geo[t][4];
    size_t OH = pc_window_out_size(H, K, stride, pad), OW = pc_window_out_size(W, K, stride, pad);
    size_t nx = nimg * IC * H * W, ncol = IC * K * K * nimg * OH * OW;
    float *x = randn_buf(nx, "im2col.x", -1, 1), *y = randn_buf(ncol, "im2col.y", -1, 1);
    float *col = g_new(float, ncol), *back = g_new(float, nx), *ycopy = g_new(float, ncol);
    for (size_t oh0 = 0; oh0 < OH; oh0++) {
      for (size_t oh1 = oh0 + 1; oh1 <= OH; oh1 += (OH - oh0 > 2 ? 2 : 1)) {
        size_t band = (oh1 - oh0) * OW, nb = IC * K * K * nimg * band;
        for (size_t j = 0; j < ncol; j++) col[j] = NAN; // every entry must be written
        pc_im2col(col, x, nimg, IC, H, W, K, stride, pad, oh0, oh1);
        for (size_t c = 0; c < IC; c++)
          for (size_t kh = 0; kh < K; kh++)
            for (size_t kw = 0; kw < K; kw++)
              for (size_t i = 0; i < nimg; i++)
                for (size_t oh = oh0; oh < oh1; oh++)
                  for (size_t ow = 0; ow < OW; ow++) {
                    long h = (long)(oh * stride + kh) - (long)pad;
                    long w = (long)(ow * stride + kw) - (long)pad;
                    float want = h < 0 || w < 0 || h >= (long)H || w >= (long)W
                                     ? 0.0f
                                     : x[((i * IC + c) * H + (size_t)h) * W + (size_t)w];
                    size_t r = (c * K + kh) * K + kw;
                    float got = col[r * nimg * band + i * band + (oh - oh0) * OW + ow];
                    if (got != want) {
                      g_test_message("im2col geometry %zu band [%zu,%zu) row %zu img %zu "
                                     "(%zu,%zu): got %g want %g",
                                     t, oh0, oh1, r, i, oh, ow, (double)got, (double)want);
                      g_test_fail();
                      goto next;
                    }
                  }
        memcpy(ycopy, y, nb * sizeof(float));
        memset(back, 0, nx * sizeof(float));
        pc_col2im(back, ycopy, nimg, IC, H, W, K, stride, pad, oh0, oh1);
        double lhs = dot(col, y, nb), rhs = dot(x, back, nx);
        if (!(fabs(lhs - rhs) < 1e-4 * (1.0 + fabs(lhs)))) {
          g_test_message("col2im geometry %zu band [%zu,%zu): <im2col x, y> %.8g, "
                         "<x, col2im y> %.8g",
                         t, oh0, oh1, lhs, rhs);
          g_test_fail();
          goto next;
        }
      }
    }
  next:
    g_free(x), g_free(y), g_free(col), g_free(back), g_free(ycopy);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* pooling */

typedef struct {
  float *in;
  int32_t *idx;
  size_t N, C, H, W, K, stride, pad;
  bool max;
} pool_ctx;

static void pool_fwd(void *p, float *out) {
  pool_ctx *c = p;
  if (c->max)
    pc_maxpool_forward(out, c->idx, c->in, c->N, c->C, c->H, c->W, c->K, c->stride, c->pad);
  else
    pc_avgpool_forward(out, c->in, c->N, c->C, c->H, c->W, c->K, c->stride, c->pad);
}

// Inputs all distinct, 0.01 apart inside each plane, so an FD step of 1e-3 never changes an argmax.
static float *distinct_buf(size_t planes, size_t plane) {
  float *x = g_new(float, planes * plane);
  for (size_t p = 0; p < planes; p++)
    for (size_t i = 0; i < plane; i++)
      x[p * plane + i] = (float)((i * 37 + p * 11) % plane) * 0.01f - 0.2f;
  return x;
}

static void test_maxpool_forward(void) {
  static const size_t cfg[][3] = {{2, 2, 0}, {3, 2, 1}, {3, 1, 1}, {3, 2, 0}};
  size_t N = 2, C = 3, H = 9, W = 7;
  float *in = randn_buf(N * C * H * W, "pool.in", -1, 1);
  for (size_t t = 0; t < G_N_ELEMENTS(cfg); t++) {
    size_t K = cfg[t][0], s = cfg[t][1], p = cfg[t][2];
    size_t OH = pc_window_out_size(H, K, s, p), OW = pc_window_out_size(W, K, s, p);
    float *out = g_new(float, N * C * OH * OW);
    int32_t *idx = g_new(int32_t, N * C * OH * OW);
    pc_maxpool_forward(out, idx, in, N, C, H, W, K, s, p);
    for (size_t nc = 0; nc < N * C; nc++)
      for (size_t oh = 0; oh < OH; oh++)
        for (size_t ow = 0; ow < OW; ow++) {
          float best = -INFINITY;
          for (size_t kh = 0; kh < K; kh++)
            for (size_t kw = 0; kw < K; kw++) {
              long h = (long)(oh * s + kh) - (long)p, w = (long)(ow * s + kw) - (long)p;
              if (h < 0 || w < 0 || h >= (long)H || w >= (long)W) continue;
              best = fmaxf(best, in[nc * H * W + (size_t)h * W + (size_t)w]);
            }
          size_t o = nc * OH * OW + oh * OW + ow;
          g_assert_cmpfloat(out[o], ==, best);
          g_assert_cmpfloat(in[nc * H * W + (size_t)idx[o]], ==, best);
        }
    g_free(out), g_free(idx);
  }
  g_free(in);
}

static void test_maxpool_backward(void) {
  pool_ctx c = {.N = 2, .C = 2, .H = 8, .W = 7, .K = 3, .stride = 2, .pad = 1, .max = true};
  size_t OH = pc_window_out_size(c.H, c.K, c.stride, c.pad);
  size_t OW = pc_window_out_size(c.W, c.K, c.stride, c.pad);
  size_t nin = c.N * c.C * c.H * c.W, nout = c.N * c.C * OH * OW;
  c.in = distinct_buf(c.N * c.C, c.H * c.W);
  c.idx = g_new(int32_t, nout);
  float *R = randn_buf(nout, "pool.R", -1, 1), *out = g_new(float, nout);
  float *pin = randn_buf(nin, "pool.pin", -1, 1), *din = copy_buf(pin, nin);
  pool_fwd(&c, out);
  pc_maxpool_backward(din, R, c.idx, c.N, c.C, c.H, c.W, OH, OW);
  sub_prefill(din, pin, nin);
  check_fd("maxpool din", c.in, nin, din, &c, pool_fwd, out, R, nout, 1e-3f, 1000, 1e-3);
  g_free(c.in), g_free(c.idx), g_free(R), g_free(out), g_free(pin), g_free(din);
}

static void test_avgpool_forward(void) {
  // all ones, 3x3 s2 p1 on 5x5: count_include_pad divides by 9 everywhere, so the corner
  // (which covers 4 real inputs) is 4/9, an edge 6/9, the centre 9/9
  float in[25], out[9];
  for (size_t i = 0; i < 25; i++) in[i] = 1.0f;
  pc_avgpool_forward(out, in, 1, 1, 5, 5, 3, 2, 1);
  g_assert_cmpfloat_with_epsilon(out[0], 4.0 / 9.0, 1e-6);
  g_assert_cmpfloat_with_epsilon(out[1], 6.0 / 9.0, 1e-6);
  g_assert_cmpfloat_with_epsilon(out[4], 1.0, 1e-6);
  g_assert_cmpfloat_with_epsilon(out[8], 4.0 / 9.0, 1e-6);
  // random input against naive loops, several geometries
  static const size_t cfg[][3] = {{2, 2, 0}, {3, 2, 1}, {3, 1, 1}, {4, 4, 0}};
  size_t N = 2, C = 3, H = 8, W = 8;
  float *x = randn_buf(N * C * H * W, "pool.in", -1, 1);
  for (size_t t = 0; t < G_N_ELEMENTS(cfg); t++) {
    size_t K = cfg[t][0], s = cfg[t][1], p = cfg[t][2];
    size_t OH = pc_window_out_size(H, K, s, p), OW = pc_window_out_size(W, K, s, p);
    float *o = g_new(float, N * C * OH * OW);
    double *ref = g_new(double, N * C * OH * OW);
    pc_avgpool_forward(o, x, N, C, H, W, K, s, p);
    for (size_t nc = 0; nc < N * C; nc++)
      for (size_t oh = 0; oh < OH; oh++)
        for (size_t ow = 0; ow < OW; ow++) {
          double sum = 0.0;
          for (size_t kh = 0; kh < K; kh++)
            for (size_t kw = 0; kw < K; kw++) {
              long h = (long)(oh * s + kh) - (long)p, w = (long)(ow * s + kw) - (long)p;
              if (h < 0 || w < 0 || h >= (long)H || w >= (long)W) continue;
              sum += x[nc * H * W + (size_t)h * W + (size_t)w];
            }
          ref[nc * OH * OW + oh * OW + ow] = sum / (double)(K * K);
        }
    assert_close("avgpool out", o, ref, N * C * OH * OW, 1e-6, 1e-5);
    g_free(o), g_free(ref);
  }
  g_free(x);
}

static void test_avgpool_backward(void) {
  pool_ctx c = {.N = 2, .C = 2, .H = 7, .W = 6, .K = 3, .stride = 2, .pad = 1, .max = false};
  size_t OH = pc_window_out_size(c.H, c.K, c.stride, c.pad);
  size_t OW = pc_window_out_size(c.W, c.K, c.stride, c.pad);
  size_t nin = c.N * c.C * c.H * c.W, nout = c.N * c.C * OH * OW;
  c.in = randn_buf(nin, "pool.in", -1, 1);
  float *R = randn_buf(nout, "pool.R", -1, 1), *out = g_new(float, nout);
  float *pin = randn_buf(nin, "pool.pin", -1, 1), *din = copy_buf(pin, nin);
  pc_avgpool_backward(din, R, c.N, c.C, c.H, c.W, c.K, c.stride, c.pad);
  sub_prefill(din, pin, nin);
  check_fd("avgpool din", c.in, nin, din, &c, pool_fwd, out, R, nout, 1e-2f, 1000, 1e-3);
  g_free(c.in), g_free(R), g_free(out), g_free(pin), g_free(din);
}

typedef struct {
  float *in;
  size_t N, C, HW;
} gap_ctx;

static void gap_fwd(void *p, float *out) {
  gap_ctx *c = p;
  pc_gap_forward(out, c->in, c->N, c->C, c->HW);
}

static void test_gap(void) {
  gap_ctx c = {.N = 3, .C = 4, .HW = 10};
  size_t nin = c.N * c.C * c.HW, nout = c.N * c.C;
  c.in = randn_buf(nin, "gap.in", -1, 1);
  float *out = g_new(float, nout);
  double *ref = g_new(double, nout);
  for (size_t i = 0; i < nout; i++) {
    double s = 0.0;
    for (size_t j = 0; j < c.HW; j++) s += c.in[i * c.HW + j];
    ref[i] = s / (double)c.HW;
  }
  gap_fwd(&c, out);
  assert_close("gap out", out, ref, nout, 1e-6, 1e-5);
  float *R = randn_buf(nout, "gap.R", -1, 1);
  float *pin = randn_buf(nin, "gap.pin", -1, 1), *din = copy_buf(pin, nin);
  pc_gap_backward(din, R, c.N, c.C, c.HW);
  sub_prefill(din, pin, nin);
  check_fd("gap din", c.in, nin, din, &c, gap_fwd, out, R, nout, 1e-2f, 1000, 1e-3);
  g_free(c.in), g_free(out), g_free(ref), g_free(R), g_free(pin), g_free(din);
}

/* ------------------------------------------------------------------------------------------ */
/* batch norm */

static void test_bn_hand(void) {
  // one channel, N = 2, HW = 2: x = 1 2 | 3 4, mean 2.5, biased var 1.25, unbiased 5/3
  float x[4] = {1, 2, 3, 4}, out[4], gamma = 2.0f, beta = 0.5f, mean, invstd;
  float rm = 0.0f, rv = 1.0f, eps = 1e-5f;
  pc_bn_forward_train(out, &mean, &invstd, &rm, &rv, x, &gamma, &beta, 2, 1, 2, 0.1f, eps);
  double s = 1.0 / sqrt(1.25 + 1e-5);
  g_assert_cmpfloat_with_epsilon(mean, 2.5, 1e-6);
  g_assert_cmpfloat_with_epsilon(invstd, s, 1e-6);
  for (int i = 0; i < 4; i++)
    g_assert_cmpfloat_with_epsilon(out[i], 2.0 * (x[i] - 2.5) * s + 0.5, 1e-5);
  g_assert_cmpfloat_with_epsilon(rm, 0.25, 1e-6);                   // 0.9*0 + 0.1*2.5
  g_assert_cmpfloat_with_epsilon(rv, 0.9 + 0.1 * (5.0 / 3.0), 1e-6); // unbiased var
  // eval mode uses the running statistics: (x - 0.25) / sqrt(rv + eps) * 2 + 0.5
  pc_bn_forward_eval(out, x, &gamma, &beta, &rm, &rv, 2, 1, 2, eps);
  for (int i = 0; i < 4; i++)
    g_assert_cmpfloat_with_epsilon(out[i], 2.0 * (x[i] - 0.25) / sqrt(rv + 1e-5) + 0.5, 1e-5);
  // backward by hand: dout = 1 0 0 0; sum dy = 1, sum dy*xhat = xhat0 = -1.5 s
  float dout[4] = {1, 0, 0, 0}, din[4] = {0, 0, 0, 0}, dg = 0.0f, dbt = 0.0f;
  pc_bn_forward_train(out, &mean, &invstd, &rm, &rv, x, &gamma, &beta, 2, 1, 2, 0.1f, eps);
  pc_bn_backward(din, &dg, &dbt, dout, x, &gamma, &mean, &invstd, 2, 1, 2);
  g_assert_cmpfloat_with_epsilon(dbt, 1.0, 1e-6);
  g_assert_cmpfloat_with_epsilon(dg, -1.5 * s, 1e-5);
  for (int i = 0; i < 4; i++) {
    double xhat = (x[i] - 2.5) * s;
    double want = 2.0 * s / 4.0 * (4.0 * dout[i] - 1.0 - xhat * (-1.5 * s));
    g_assert_cmpfloat_with_epsilon(din[i], want, 1e-5);
  }
}

typedef struct {
  float *in, *gamma, *beta, *mean, *invstd, *rm, *rv;
  size_t N, C, HW;
} bn_ctx;

static void bn_fwd(void *p, float *out) {
  bn_ctx *c = p;
  pc_bn_forward_train(out, c->mean, c->invstd, c->rm, c->rv, c->in, c->gamma, c->beta, c->N, c->C,
                      c->HW, 0.1f, 1e-5f);
}

static void test_bn_backward(void) {
  bn_ctx c = {.N = 3, .C = 4, .HW = 5};
  size_t n = c.N * c.C * c.HW;
  c.in = randn_buf(n, "bn.in", -2, 2);
  c.gamma = randn_buf(c.C, "bn.gamma", 0.5, 1.5);
  c.beta = randn_buf(c.C, "bn.beta", -1, 1);
  c.mean = g_new(float, c.C), c.invstd = g_new(float, c.C);
  c.rm = g_new0(float, c.C), c.rv = g_new0(float, c.C);
  float *R = randn_buf(n, "bn.R", -1, 1), *out = g_new(float, n);
  float *pin = randn_buf(n, "bn.pin", -1, 1), *pg = randn_buf(c.C, "bn.pg", -1, 1);
  float *pb = randn_buf(c.C, "bn.pb", -1, 1);
  float *din = copy_buf(pin, n), *dg = copy_buf(pg, c.C), *db = copy_buf(pb, c.C);
  bn_fwd(&c, out);
  pc_bn_backward(din, dg, db, R, c.in, c.gamma, c.mean, c.invstd, c.N, c.C, c.HW);
  sub_prefill(din, pin, n), sub_prefill(dg, pg, c.C), sub_prefill(db, pb, c.C);
  check_fd("bn din", c.in, n, din, &c, bn_fwd, out, R, n, 1e-2f, 1000, 2e-3);
  check_fd("bn dgamma", c.gamma, c.C, dg, &c, bn_fwd, out, R, n, 1e-2f, 1000, 2e-3);
  check_fd("bn dbeta", c.beta, c.C, db, &c, bn_fwd, out, R, n, 1e-2f, 1000, 2e-3);
  g_free(c.in), g_free(c.gamma), g_free(c.beta), g_free(c.mean), g_free(c.invstd), g_free(c.rm);
  g_free(c.rv), g_free(R), g_free(out), g_free(pin), g_free(pg), g_free(pb), g_free(din);
  g_free(dg), g_free(db);
}

/* ------------------------------------------------------------------------------------------ */
/* layernorm, gelu */

typedef struct {
  float *in, *gamma, *beta, *mean, *invstd;
  size_t rows, D;
} ln_ctx;

static void ln_fwd(void *p, float *out) {
  ln_ctx *c = p;
  pc_layernorm_forward(out, c->mean, c->invstd, c->in, c->gamma, c->beta, c->rows, c->D, 1e-5f);
}

static void test_layernorm(void) {
  ln_ctx c = {.rows = 6, .D = 10};
  size_t n = c.rows * c.D;
  c.in = randn_buf(n, "ln.in", -2, 3);
  c.gamma = randn_buf(c.D, "ln.gamma", 0.5f, 1.5f), c.beta = randn_buf(c.D, "ln.beta", -1, 1);
  c.mean = g_new(float, c.rows), c.invstd = g_new(float, c.rows);
  float *out = g_new(float, n), *R = randn_buf(n, "ln.R", -1, 1);
  ln_fwd(&c, out);
  double *want = g_new(double, n);
  for (size_t r = 0; r < c.rows; r++) { /* naive double: mean, biased variance */
    double m = 0, v = 0;
    for (size_t i = 0; i < c.D; i++) m += c.in[r * c.D + i];
    m /= (double)c.D;
    for (size_t i = 0; i < c.D; i++) v += (c.in[r * c.D + i] - m) * (c.in[r * c.D + i] - m);
    v /= (double)c.D;
    for (size_t i = 0; i < c.D; i++)
      want[r * c.D + i] = (c.in[r * c.D + i] - m) / sqrt(v + 1e-5) * c.gamma[i] + c.beta[i];
  }
  assert_close("layernorm out", out, want, n, 1e-5, 1e-5);
  float *pin = randn_buf(n, "ln.pin", -1, 1), *pg = randn_buf(c.D, "ln.pg", -1, 1);
  float *pb = randn_buf(c.D, "ln.pb", -1, 1);
  float *din = copy_buf(pin, n), *dg = copy_buf(pg, c.D), *db = copy_buf(pb, c.D);
  pc_layernorm_backward(din, dg, db, R, c.in, c.gamma, c.mean, c.invstd, c.rows, c.D);
  /* the split halves, one after the other, accumulate the same numbers */
  float *din2 = copy_buf(pin, n), *dg2 = copy_buf(pg, c.D), *db2 = copy_buf(pb, c.D);
  pc_layernorm_backward(din2, NULL, NULL, R, c.in, c.gamma, c.mean, c.invstd, c.rows, c.D);
  pc_layernorm_backward(NULL, dg2, db2, R, c.in, c.gamma, c.mean, c.invstd, c.rows, c.D);
  g_assert_cmpmem(din, n * sizeof(float), din2, n * sizeof(float));
  g_assert_cmpmem(dg, c.D * sizeof(float), dg2, c.D * sizeof(float));
  g_assert_cmpmem(db, c.D * sizeof(float), db2, c.D * sizeof(float));
  sub_prefill(din, pin, n), sub_prefill(dg, pg, c.D), sub_prefill(db, pb, c.D);
  check_fd("layernorm din", c.in, n, din, &c, ln_fwd, out, R, n, 1e-2f, 1000, 2e-3);
  check_fd("layernorm dgamma", c.gamma, c.D, dg, &c, ln_fwd, out, R, n, 1e-2f, 1000, 2e-3);
  check_fd("layernorm dbeta", c.beta, c.D, db, &c, ln_fwd, out, R, n, 1e-2f, 1000, 2e-3);
  g_free(c.in), g_free(c.gamma), g_free(c.beta), g_free(c.mean), g_free(c.invstd), g_free(out);
  g_free(R), g_free(want), g_free(pin), g_free(pg), g_free(pb), g_free(din), g_free(dg);
  g_free(db), g_free(din2), g_free(dg2), g_free(db2);
}

typedef struct {
  float *in;
  size_t n;
} gelu_ctx;

static void gelu_fwd(void *p, float *out) {
  gelu_ctx *c = p;
  pc_gelu_forward(out, c->in, c->n);
}

static void test_gelu(void) {
  gelu_ctx c = {.n = 300};
  c.in = randn_buf(c.n, "gelu.in", -4, 4);
  float *out = g_new(float, c.n), *R = randn_buf(c.n, "gelu.R", -1, 1);
  gelu_fwd(&c, out);
  double *want = g_new(double, c.n);
  for (size_t i = 0; i < c.n; i++) {
    double x = c.in[i];
    want[i] = 0.5 * x * (1 + tanh(sqrt(2 / G_PI) * (x + 0.044715 * x * x * x)));
  }
  assert_close("gelu out", out, want, c.n, 1e-6, 1e-5);
  float *pin = randn_buf(c.n, "gelu.pin", -1, 1), *din = copy_buf(pin, c.n);
  pc_gelu_backward(din, R, c.in, c.n);
  sub_prefill(din, pin, c.n);
  check_fd("gelu din", c.in, c.n, din, &c, gelu_fwd, out, R, c.n, 1e-2f, 1000, 1e-3);
  g_free(c.in), g_free(out), g_free(R), g_free(want), g_free(pin), g_free(din);
}

/* ------------------------------------------------------------------------------------------ */
/* relu, add */

typedef struct {
  float *in;
  size_t n;
} relu_ctx;

static void relu_fwd(void *p, float *out) {
  relu_ctx *c = p;
  pc_relu_forward(out, c->in, c->n);
}

static void test_relu(void) {
  relu_ctx c = {.n = 200};
  c.in = randn_buf(c.n, "relu.in", -1, 1);
  for (size_t i = 0; i < c.n; i++) c.in[i] += c.in[i] >= 0 ? 0.1f : -0.1f; // away from the kink
  float *out = g_new(float, c.n), *R = randn_buf(c.n, "relu.R", -1, 1);
  relu_fwd(&c, out);
  for (size_t i = 0; i < c.n; i++) g_assert_cmpfloat(out[i], ==, c.in[i] > 0 ? c.in[i] : 0.0f);
  float *inplace = copy_buf(c.in, c.n);
  pc_relu_forward(inplace, inplace, c.n);
  g_assert_cmpmem(inplace, c.n * sizeof(float), out, c.n * sizeof(float));
  float *pin = randn_buf(c.n, "relu.pin", -1, 1), *din = copy_buf(pin, c.n);
  pc_relu_backward(din, R, out, c.n);
  sub_prefill(din, pin, c.n);
  check_fd("relu din", c.in, c.n, din, &c, relu_fwd, out, R, c.n, 1e-2f, 1000, 1e-3);
  g_free(c.in), g_free(out), g_free(R), g_free(inplace), g_free(pin), g_free(din);
}

typedef struct {
  float *a, *b;
  size_t n;
} add_ctx;

static void add_fwd(void *p, float *out) {
  add_ctx *c = p;
  pc_add_forward(out, c->a, c->b, c->n);
}

static void test_add(void) {
  add_ctx c = {.n = 50};
  c.a = randn_buf(c.n, "add.a", -1, 1), c.b = randn_buf(c.n, "add.b", -1, 1);
  float *out = g_new(float, c.n), *R = randn_buf(c.n, "add.R", -1, 1);
  add_fwd(&c, out);
  for (size_t i = 0; i < c.n; i++) g_assert_cmpfloat(out[i], ==, c.a[i] + c.b[i]);
  float *pa = randn_buf(c.n, "add.pa", -1, 1), *pb = randn_buf(c.n, "add.pb", -1, 1);
  float *da = copy_buf(pa, c.n), *db = copy_buf(pb, c.n);
  pc_add_backward(da, db, R, c.n);
  sub_prefill(da, pa, c.n), sub_prefill(db, pb, c.n);
  check_fd("add da", c.a, c.n, da, &c, add_fwd, out, R, c.n, 1e-2f, 1000, 1e-3);
  check_fd("add db", c.b, c.n, db, &c, add_fwd, out, R, c.n, 1e-2f, 1000, 1e-3);
  // both inputs the same tensor (x + x): its gradient gets dout twice
  float *dx = g_new0(float, c.n);
  pc_add_backward(dx, dx, R, c.n);
  for (size_t i = 0; i < c.n; i++) g_assert_cmpfloat(dx[i], ==, 2.0f * R[i]);
  g_free(c.a), g_free(c.b), g_free(out), g_free(R), g_free(pa), g_free(pb), g_free(da);
  g_free(db), g_free(dx);
}

/* ------------------------------------------------------------------------------------------ */
/* softmax cross-entropy */

static void test_softmax_xent_forward(void) {
  size_t N = 6, C = 5;
  float *logits = randn_buf(N * C, "sx.logits", -3, 3), *probs = g_new(float, N * C);
  float losses[6];
  int32_t labels[6] = {0, 1, 2, 3, 4, 0};
  logits[5 * C + 3] = 1000.0f; // huge logit: must stay finite (max subtraction)
  size_t correct = pc_softmax_xent_forward(probs, losses, logits, labels, N, C);
  size_t want_correct = 0;
  for (size_t n = 0; n < N; n++) {
    double mx = -INFINITY, sum = 0.0;
    size_t am = 0;
    for (size_t j = 0; j < C; j++)
      if (logits[n * C + j] > mx) mx = logits[n * C + j], am = j;
    for (size_t j = 0; j < C; j++) sum += exp(logits[n * C + j] - mx);
    for (size_t j = 0; j < C; j++) {
      double p = exp(logits[n * C + j] - mx) / sum;
      g_assert_cmpfloat_with_epsilon(probs[n * C + j], p, 1e-6);
    }
    double loss = log(sum) - (logits[n * C + (size_t)labels[n]] - mx);
    g_assert_true(isfinite(losses[n]));
    g_assert_cmpfloat_with_epsilon(losses[n], loss, 1e-4 * (1.0 + loss));
    want_correct += am == (size_t)labels[n];
  }
  g_assert_cmpuint(correct, ==, want_correct);
  g_assert_cmpfloat(losses[5], >, 900.0f); // label 0 against a logit of 1000
  // all labels right: N correct
  int32_t right[6];
  for (size_t n = 0; n < N; n++) {
    size_t am = 0;
    for (size_t j = 1; j < C; j++)
      if (logits[n * C + j] > logits[n * C + am]) am = j;
    right[n] = (int32_t)am;
  }
  g_assert_cmpuint(pc_softmax_xent_forward(probs, losses, logits, right, N, C), ==, N);
  g_free(logits), g_free(probs);
}

/* vmath.h: exp within 1.1 ulp over its range and its limits; the row reductions against plain
 * loops; and the vectorized kernels giving every element and row the same bits as alone. */
static void test_vmath(void) {
  double worst = 0.0;
  for (uint32_t b = 0; b < 0xFFFFFFFFu - 4099; b += 4099) { /* about a million floats */
    float x;
    memcpy(&x, &b, sizeof x);
    if (!(x >= -87.0f && x <= 88.0f)) continue;
    double e = exp((double)x), ulp = nextafterf((float)e, INFINITY) - (float)e;
    worst = fmax(worst, fabs(pc_expf(x) - e) / ulp);
  }
  g_assert_cmpfloat(worst, <=, 1.1);
  g_assert_cmpfloat(pc_expf(0.0f), ==, 1.0f);
  g_assert_cmpfloat(pc_expf(-87.5f), ==, 0.0f);
  g_assert_cmpfloat(pc_expf(-INFINITY), ==, 0.0f);
  g_assert_true(isinf(pc_expf(88.5f)) && isnan(pc_expf(NAN)));

  float *x = randn_buf(203, "vmath.x", -5, 5);
  for (size_t n = 1; n <= 203; n += (n < 20 ? 1 : 23)) {
    float m = x[0];
    double sum = 0.0;
    for (size_t j = 0; j < n; j++) m = x[j] > m ? x[j] : m, sum += x[j];
    g_assert_cmpfloat(pc_maxf(x, n), ==, m);
    g_assert_cmpfloat_with_epsilon(pc_sumf(x, n), sum, 1e-5 * (double)n);
  }

  size_t n = 203, N = 7, C = 29; /* odd sizes: vector bodies and scalar tails */
  float *y = g_new(float, n), *one = g_new(float, 1), *d = g_new0(float, n), *d1 = g_new0(float, 1);
  pc_gelu_forward(y, x, n);
  pc_gelu_backward(d, x, x, n);
  for (size_t i = 0; i < n; i++) {
    pc_gelu_forward(one, x + i, 1);
    g_assert_cmpuint(memcmp(one, y + i, sizeof *one), ==, 0);
    d1[0] = 0.0f;
    pc_gelu_backward(d1, x + i, x + i, 1);
    g_assert_cmpuint(memcmp(d1, d + i, sizeof *d1), ==, 0);
  }
  float *probs = g_new(float, N * C), *prow = g_new(float, C), losses[7], loss1;
  int32_t labels[7] = {0, 3, 28, 5, 7, 11, 2};
  x[3 * C + 4] = x[3 * C + 9] = 50.0f; /* a tie: the first is the prediction */
  labels[3] = 4;
  size_t correct = pc_softmax_xent_forward(probs, losses, x, labels, N, C), c1 = 0;
  for (size_t r = 0; r < N; r++) {
    c1 += pc_softmax_xent_forward(prow, &loss1, x + r * C, labels + r, 1, C);
    g_assert_cmpuint(memcmp(prow, probs + r * C, C * sizeof *prow), ==, 0);
    g_assert_cmpuint(memcmp(&loss1, losses + r, sizeof loss1), ==, 0);
  }
  g_assert_cmpuint(correct, ==, c1);
  labels[3] = 9;
  g_assert_cmpuint(pc_softmax_xent_forward(prow, &loss1, x + 3 * C, labels + 3, 1, C), ==, 0);
  g_free(x), g_free(y), g_free(one), g_free(d), g_free(d1), g_free(probs), g_free(prow);
}

typedef struct {
  float *logits, *probs, *losses;
  const int32_t *labels;
  size_t N, C;
} sx_ctx;

// "out" is the mean loss (one float), so that R = 1 and the FD gradient is d(mean loss)/dlogits.
static void sx_fwd(void *p, float *out) {
  sx_ctx *c = p;
  pc_softmax_xent_forward(c->probs, c->losses, c->logits, c->labels, c->N, c->C);
  double s = 0.0;
  for (size_t n = 0; n < c->N; n++) s += c->losses[n];
  out[0] = (float)(s / (double)c->N);
}

static void test_softmax_xent_backward(void) {
  enum { B = 16, C = 7, MICRO = 4 };
  sx_ctx c = {.N = B, .C = C};
  int32_t labels[B];
  for (size_t n = 0; n < B; n++) labels[n] = (int32_t)((n * 5 + 3) % C);
  c.labels = labels;
  c.logits = randn_buf(B * C, "sx.logits", -2, 2);
  c.probs = g_new(float, B * C), c.losses = g_new(float, B);
  float scale = 1.0f / B;
  // whole minibatch at once
  float *whole = g_new0(float, B * C);
  pc_softmax_xent_forward(c.probs, c.losses, c.logits, labels, B, C);
  pc_softmax_xent_backward(whole, c.probs, labels, B, C, scale);
  // 4 microbatches of 4, each accumulating into the same gradient buffer (rows of the minibatch)
  // and, separately, into one shared buffer, as a layer's parameter gradient would sum
  float *micro = g_new0(float, B * C);
  float *summed = g_new0(float, C);
  float *mprobs = g_new(float, B / MICRO * C), *mloss = g_new(float, B / MICRO);
  for (size_t m = 0; m < MICRO; m++) {
    size_t off = m * (B / MICRO);
    pc_softmax_xent_forward(mprobs, mloss, c.logits + off * C, labels + off, B / MICRO, C);
    pc_softmax_xent_backward(micro + off * C, mprobs, labels + off, B / MICRO, C, scale);
    for (size_t n = 0; n < B / MICRO; n++)
      pc_softmax_xent_backward(summed, mprobs + n * C, labels + off + n, 1, C, scale);
  }
  for (size_t i = 0; i < B * C; i++) g_assert_cmpfloat(micro[i], ==, whole[i]);
  for (size_t j = 0; j < C; j++) {
    double s = 0.0;
    for (size_t n = 0; n < B; n++) s += whole[n * C + j];
    g_assert_cmpfloat_with_epsilon(summed[j], s, 1e-6);
  }
  // and that gradient is the gradient of the minibatch's mean loss
  float one = 1.0f, out;
  check_fd("softmax_xent dlogits", c.logits, B * C, whole, &c, sx_fwd, &out, &one, 1, 1e-2f,
           1000, 2e-3);
  g_free(c.logits), g_free(c.probs), g_free(c.losses), g_free(whole), g_free(micro);
  g_free(summed), g_free(mprobs), g_free(mloss);
}

/* ------------------------------------------------------------------------------------------ */
/* sgd */

static void test_sgd(void) {
  // torch.optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.01), w = 1, grad 0.5 twice:
  //   step 1: d = 0.5 + 0.01*1 = 0.51; buf = 0.51; w = 1 - 0.1*0.51 = 0.949
  //   step 2: d = 0.5 + 0.01*0.949 = 0.50949; buf = 0.9*0.51 + 0.50949 = 0.96849;
  //           w = 0.949 - 0.096849 = 0.852151
  float w[2] = {1.0f, -2.0f}, v[2] = {0.0f, 0.0f}, g[2] = {0.5f, 0.25f};
  pc_sgd_step(w, v, g, 2, 0.1f, 0.9f, 0.01f);
  g_assert_cmpfloat_with_epsilon(v[0], 0.51, 1e-7);
  g_assert_cmpfloat_with_epsilon(w[0], 0.949, 1e-7);
  g_assert_cmpfloat(g[0], ==, 0.0f); // zeroed for the next accumulation
  g_assert_cmpfloat(g[1], ==, 0.0f);
  g[0] = 0.5f, g[1] = 0.25f;
  pc_sgd_step(w, v, g, 2, 0.1f, 0.9f, 0.01f);
  g_assert_cmpfloat_with_epsilon(v[0], 0.96849, 1e-6);
  g_assert_cmpfloat_with_epsilon(w[0], 0.852151, 1e-6);
  // second element: d1 = 0.25 - 0.02 = 0.23, w = -2.023; d2 = 0.25 - 0.02023 = 0.22977,
  // buf = 0.207 + 0.22977 = 0.43677, w = -2.023 - 0.043677 = -2.066677
  g_assert_cmpfloat_with_epsilon(w[1], -2.066677, 1e-6);
  // no momentum, no weight decay: plain w -= lr * g, v untouched (may be NULL)
  float w2[1] = {1.0f};
  g[0] = 0.5f;
  pc_sgd_step(w2, NULL, g, 1, 0.1f, 0.0f, 0.0f);
  g_assert_cmpfloat_with_epsilon(w2[0], 0.95, 1e-7);
  // bit-for-bit torch's float operation order on the first step
  float w3 = 0.3f, v3 = 0.0f, g3 = 0.7f;
  pc_sgd_step(&w3, &v3, &g3, 1, 0.01f, 0.9f, 5e-4f);
  float d = 0.7f + 5e-4f * 0.3f;
  float buf = 0.9f * 0.0f + d;
  g_assert_cmpfloat(v3, ==, buf);
  g_assert_cmpfloat(w3, ==, 0.3f + (-0.01f) * buf);
}

static void test_adamw(void) {
  // torch.optim.AdamW([w], lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01), w = 1,
  // grad 0.5: w = 0.999; m = 0.05; v = 0.00025; w -= (0.1 / 0.1) * 0.05 / (0.0158114 /
  // 0.0316228 + 1e-8) = 0.999 - 0.1 = 0.899. Step 2, grad -0.25: w = 0.899 * 0.999 = 0.898101;
  // m = 0.045 - 0.025 = 0.02; v = 0.00024975 + 0.0000625 = 0.00031225; bias corrections 0.19
  // and 0.001999: w -= (0.1 / 0.19) * 0.02 / (sqrt(0.00031225 / 0.001999) + 1e-8)
  //   = 0.898101 - 0.0105263 / 0.3952263 = 0.871468
  pc_optim o = {.kind = PC_OPTIM_ADAMW, .lr = 0.1, .weight_decay = 0.01, .beta1 = 0.9,
                .beta2 = 0.999, .eps = 1e-8, .step = 1, .grad_scale = 1};
  float w = 1.0f, m = 0.0f, v = 0.0f, g = 0.5f;
  g_assert_true(pc_optim_step(&o, &w, &m, &v, &g, 1));
  g_assert_cmpfloat_with_epsilon(w, 0.899, 1e-6);
  g_assert_cmpfloat_with_epsilon(m, 0.05, 1e-8);
  g_assert_cmpfloat_with_epsilon(v, 0.00025, 1e-10);
  g_assert_cmpfloat(g, ==, 0.0f);
  g = -0.25f;
  o.step = 2;
  g_assert_true(pc_optim_step(&o, &w, &m, &v, &g, 1));
  g_assert_cmpfloat_with_epsilon(w, 0.871468, 2e-6);
  // the clipping factor scales the gradient first: SGD with grad_scale 0.5 on grad 0.5 is SGD
  // on 0.25; a NaN gradient is reported
  pc_optim s = {.kind = PC_OPTIM_SGD, .lr = 0.1, .momentum = 0, .grad_scale = 0.5f};
  float w1 = 1.0f, g1 = 0.5f, w2 = 1.0f, g2 = 0.25f;
  g_assert_true(pc_optim_step(&s, &w1, NULL, NULL, &g1, 1));
  s.grad_scale = 1;
  g_assert_true(pc_optim_step(&s, &w2, NULL, NULL, &g2, 1));
  g_assert_cmpfloat(w1, ==, w2);
  g1 = NAN;
  g_assert_false(pc_optim_step(&o, &w1, &m, &v, &g1, 1));
  // the sum of squares in double
  float x[5] = {1, 2, 3, 4, 0.5f};
  g_assert_cmpfloat(pc_sum_squares(x, 5), ==, 30.25);
}

/* ------------------------------------------------------------------------------------------ */
/* initialisation */

static void test_init(void) {
  size_t IN = 300, OUT = 40, n = IN * OUT;
  float *w1 = g_new(float, n), *b1 = g_new(float, OUT), *w2 = g_new(float, n);
  float *b2 = g_new(float, OUT), *w3 = g_new(float, n), *b3 = g_new(float, OUT);
  pc_init_fc(w1, b1, IN, OUT, TORCH_GAIN, 42, "block1.fc");
  pc_init_fc(w2, b2, IN, OUT, TORCH_GAIN, 42, "block1.fc");
  g_assert_cmpmem(w1, n * sizeof(float), w2, n * sizeof(float));
  g_assert_cmpmem(b1, OUT * sizeof(float), b2, OUT * sizeof(float));
  size_t same = 0;
  pc_init_fc(w3, b3, IN, OUT, TORCH_GAIN, 42, "block2.fc"); // different name
  for (size_t i = 0; i < n; i++) same += w3[i] == w1[i];
  g_assert_cmpuint(same, <, n / 100);
  same = 0;
  pc_init_fc(w3, b3, IN, OUT, TORCH_GAIN, 43, "block1.fc"); // different seed
  for (size_t i = 0; i < n; i++) same += w3[i] == w1[i];
  g_assert_cmpuint(same, <, n / 100);
  // range and moments: uniform in [-1/sqrt(IN), 1/sqrt(IN)] (the bound, computed as init.c does
  // from the float gain, is within 1e-7 of that), variance bound^2 / 3
  double bound = (float)(TORCH_GAIN * sqrt(3.0 / (double)IN)), mean = 0.0, var = 0.0, mx = 0.0;
  g_assert_cmpfloat(fabs(bound * sqrt((double)IN) - 1.0), <, 1e-6);
  for (size_t i = 0; i < n; i++) {
    mx = fmax(mx, fabs(w1[i]));
    mean += w1[i];
  }
  mean /= (double)n;
  for (size_t i = 0; i < n; i++) var += (w1[i] - mean) * (w1[i] - mean);
  var /= (double)n;
  g_assert_cmpfloat(mx, <=, bound);
  g_assert_cmpfloat(mx, >, 0.99 * bound);
  g_assert_cmpfloat(fabs(mean), <, 0.02 * bound);
  g_assert_cmpfloat(fabs(var / (bound * bound / 3.0) - 1.0), <, 0.03);
  for (size_t i = 0; i < OUT; i++) g_assert_cmpfloat(fabs(b1[i]), <=, bound);
  // conv: fan_in = IC*K*K
  size_t IC = 16, OC = 8, K = 3, nc = OC * IC * K * K;
  float *cw = g_new(float, nc), *cb = g_new(float, OC);
  pc_init_conv(cw, cb, IC, OC, K, TORCH_GAIN, 7, "conv1");
  double cbound = (float)(TORCH_GAIN * sqrt(3.0 / (double)(IC * K * K))), cmx = 0.0;
  double bbound = (float)(1.0 / sqrt((double)(IC * K * K)));
  for (size_t i = 0; i < nc; i++) cmx = fmax(cmx, fabs(cw[i]));
  g_assert_cmpfloat(cmx, <=, cbound);
  g_assert_cmpfloat(cmx, >, 0.95 * cbound);
  // the weight and bias streams are "<name>.weight" and "<name>.bias"
  g_assert_cmpfloat(cw[5], ==,
                    (float)-cbound + (float)(2 * cbound) * pc_rand_uniform(7, "conv1.weight", 5));
  g_assert_cmpfloat(cb[3], ==,
                    (float)-bbound + (float)(2 * bbound) * pc_rand_uniform(7, "conv1.bias", 3));
  // the He gain (the layers' default) widens the weights by sqrt(6) over torch's default
  pc_init_conv(cw, cb, IC, OC, K, (float)G_SQRT2, 7, "conv1");
  double hbound = (float)(G_SQRT2 * sqrt(3.0 / (double)(IC * K * K))), hmx = 0.0;
  for (size_t i = 0; i < nc; i++) hmx = fmax(hmx, fabs(cw[i]));
  g_assert_cmpfloat(hmx, <=, hbound);
  g_assert_cmpfloat(hmx, >, 0.95 * hbound);
  g_assert_cmpfloat(fabs(hbound / cbound - sqrt(6.0)), <, 1e-5);
  // bn
  float gm[3], bt[3], rm[3], rv[3];
  pc_init_bn(gm, bt, rm, rv, 3);
  for (int i = 0; i < 3; i++) {
    g_assert_cmpfloat(gm[i], ==, 1.0f);
    g_assert_cmpfloat(bt[i], ==, 0.0f);
    g_assert_cmpfloat(rm[i], ==, 0.0f);
    g_assert_cmpfloat(rv[i], ==, 1.0f);
  }
  g_free(w1), g_free(b1), g_free(w2), g_free(b2), g_free(w3), g_free(b3), g_free(cw), g_free(cb);
}

static void test_rng(void) {
  uint64_t key = pc_rng_key(99, "cifar.synthetic");
  g_assert_cmpuint(key, ==, pc_rng_key(99, "cifar.synthetic"));
  g_assert_cmpuint(key, !=, pc_rng_key(99, "cifar.synthetic2"));
  g_assert_cmpuint(key, !=, pc_rng_key(100, "cifar.synthetic"));
  // counter based: any element alone equals the same element of a bulk fill
  float bulk[64];
  pc_fill_uniform(bulk, 64, 0.0f, 1.0f, key, 1000);
  for (size_t i = 0; i < 64; i++) {
    g_assert_cmpfloat(bulk[i], ==, pc_rng_uniform(key, 1000 + i));
    g_assert_cmpfloat(bulk[i], ==, pc_rand_uniform(99, "cifar.synthetic", 1000 + i));
  }
  // uniform in [0, 1) and normal with mean 0, variance 1
  enum { M = 200000 };
  double su = 0.0, sn = 0.0, sn2 = 0.0;
  for (uint64_t i = 0; i < M; i++) {
    float u = pc_rng_uniform(key, i), z = pc_rng_normal(key, i);
    g_assert_true(u >= 0.0f && u < 1.0f);
    g_assert_true(isfinite(z));
    su += u, sn += z, sn2 += (double)z * z;
  }
  g_assert_cmpfloat(fabs(su / M - 0.5), <, 0.005);
  g_assert_cmpfloat(fabs(sn / M), <, 0.01);
  g_assert_cmpfloat(fabs(sn2 / M - 1.0), <, 0.02);
  g_assert_cmpfloat(pc_rand_normal(99, "cifar.synthetic", 7), ==, pc_rng_normal(key, 7));
  float nb[8];
  pc_fill_normal(nb, 8, 1.0f, 2.0f, key, 3);
  for (size_t i = 0; i < 8; i++)
    g_assert_cmpfloat(nb[i], ==, 1.0f + 2.0f * pc_rng_normal(key, 3 + i));
}

/* ------------------------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------------------------ */
/* attention, embed */

typedef struct {
  float *qkv, *att;
  size_t N, T, C, H;
} att_ctx;

static void att_fwd(void *p, float *out) {
  att_ctx *c = p;
  pc_attention_forward(out, c->att, c->qkv, c->N, c->T, c->C, c->H);
}

/* Values against naive double loops, the probabilities zero above the diagonal, and a
 * finite-difference check of dqkv, for N samples of T positions (T > 64: several row blocks). */
static void check_attention(size_t N, size_t T, size_t C, size_t H) {
  att_ctx c = {.N = N, .T = T, .C = C, .H = H};
  size_t nin = c.N * c.T * 3 * c.C, nout = c.N * c.T * c.C, hs = c.C / c.H;
  c.qkv = randn_buf(nin, "att.qkv", -2, 2);
  c.att = g_new(float, c.N * c.H * c.T * c.T);
  float *out = g_new(float, nout), *R = randn_buf(nout, "att.R", -1, 1);
  att_fwd(&c, out);
  /* naive double: each position attends to itself and those before it */
  double *want = g_new0(double, nout), *s = g_new(double, c.T);
  for (size_t n = 0; n < c.N; n++)
    for (size_t h = 0; h < c.H; h++)
      for (size_t i = 0; i < c.T; i++) {
        const float *q = c.qkv + (n * c.T + i) * 3 * c.C + h * hs;
        double m = -1e300, z = 0;
        for (size_t j = 0; j <= i; j++) {
          const float *k = c.qkv + (n * c.T + j) * 3 * c.C + c.C + h * hs;
          s[j] = 0;
          for (size_t d = 0; d < hs; d++) s[j] += (double)q[d] * k[d];
          s[j] /= sqrt((double)hs);
          m = fmax(m, s[j]);
        }
        for (size_t j = 0; j <= i; j++) z += exp(s[j] - m);
        for (size_t j = 0; j <= i; j++) {
          const float *v = c.qkv + (n * c.T + j) * 3 * c.C + 2 * c.C + h * hs;
          for (size_t d = 0; d < hs; d++)
            want[(n * c.T + i) * c.C + h * hs + d] += exp(s[j] - m) / z * v[d];
        }
        for (size_t j = i + 1; j < c.T; j++)
          g_assert_cmpfloat(c.att[((n * c.H + h) * c.T + i) * c.T + j], ==, 0.0f);
      }
  assert_close("attention out", out, want, nout, 1e-5, 1e-5);
  float *pin = randn_buf(nin, "att.pin", -1, 1), *din = copy_buf(pin, nin);
  float *scratch = g_new(float, c.T * c.T);
  pc_attention_backward(din, R, c.qkv, c.att, scratch, c.N, c.T, c.C, c.H);
  sub_prefill(din, pin, nin);
  check_fd("attention dqkv", c.qkv, nin, din, &c, att_fwd, out, R, nout, 1e-2f, 1000, 2e-3);
  g_free(c.qkv), g_free(c.att), g_free(out), g_free(R), g_free(want), g_free(pin), g_free(din);
  g_free(scratch), g_free(s);
}

static void test_attention(void) {
  check_attention(2, 5, 6, 2);
  check_attention(1, 130, 4, 2);
}

typedef struct {
  float *tokens, *wte, *wpe;
  size_t N, T, V, C;
} emb_ctx;

static void emb_fwd(void *p, float *out) {
  emb_ctx *c = p;
  pc_embed_forward(out, c->tokens, c->wte, c->wpe, c->N, c->T, c->V, c->C);
}

static void test_embed(void) {
  emb_ctx c = {.N = 3, .T = 4, .V = 7, .C = 5};
  size_t nt = c.N * c.T, nout = nt * c.C;
  c.tokens = g_new(float, nt);
  for (size_t i = 0; i < nt; i++) c.tokens[i] = (float)((i * 5 + 2) % c.V); /* repeats some */
  c.wte = randn_buf(c.V * c.C, "emb.wte", -1, 1), c.wpe = randn_buf(c.T * c.C, "emb.wpe", -1, 1);
  float *out = g_new(float, nout), *R = randn_buf(nout, "emb.R", -1, 1);
  emb_fwd(&c, out);
  for (size_t i = 0; i < nt; i++)
    for (size_t d = 0; d < c.C; d++)
      g_assert_cmpfloat(out[i * c.C + d], ==,
                        c.wte[(size_t)c.tokens[i] * c.C + d] + c.wpe[(i % c.T) * c.C + d]);
  float *pw = randn_buf(c.V * c.C, "emb.pw", -1, 1), *pp = randn_buf(c.T * c.C, "emb.pp", -1, 1);
  float *dw = copy_buf(pw, c.V * c.C), *dp = copy_buf(pp, c.T * c.C);
  pc_embed_backward(dw, dp, R, c.tokens, c.N, c.T, c.C);
  sub_prefill(dw, pw, c.V * c.C), sub_prefill(dp, pp, c.T * c.C);
  check_fd("embed dwte", c.wte, c.V * c.C, dw, &c, emb_fwd, out, R, nout, 1e-2f, 1000, 2e-3);
  check_fd("embed dwpe", c.wpe, c.T * c.C, dp, &c, emb_fwd, out, R, nout, 1e-2f, 1000, 2e-3);
  /* an id that is no token gives NaN, which the runtime's output check reports */
  c.tokens[1] = (float)c.V;
  c.tokens[2] = 1.5f;
  emb_fwd(&c, out);
  g_assert_true(isnan(out[1 * c.C]) && isnan(out[2 * c.C]) && !isnan(out[0]));
  g_free(c.tokens), g_free(c.wte), g_free(c.wpe), g_free(out), g_free(R), g_free(pw);
  g_free(pp), g_free(dw), g_free(dp);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/kernel/fc/forward", test_fc_forward);
  g_test_add_func("/kernel/fc/backward", test_fc_backward);
  g_test_add_func("/kernel/fc/rows", test_fc_rows);
  g_test_add_func("/kernel/conv/im2col", test_im2col);
  g_test_add_func("/kernel/conv/forward", test_conv_forward);
  g_test_add_func("/kernel/conv/backward-naive", test_conv_backward_naive);
  g_test_add_func("/kernel/conv/backward", test_conv_backward);
  g_test_add_func("/kernel/maxpool/forward", test_maxpool_forward);
  g_test_add_func("/kernel/maxpool/backward", test_maxpool_backward);
  g_test_add_func("/kernel/avgpool/forward", test_avgpool_forward);
  g_test_add_func("/kernel/avgpool/backward", test_avgpool_backward);
  g_test_add_func("/kernel/gap/forward-backward", test_gap);
  g_test_add_func("/kernel/bn/hand", test_bn_hand);
  g_test_add_func("/kernel/bn/backward", test_bn_backward);
  g_test_add_func("/kernel/relu/forward-backward", test_relu);
  g_test_add_func("/kernel/add/forward-backward", test_add);
  g_test_add_func("/kernel/softmax-xent/forward", test_softmax_xent_forward);
  g_test_add_func("/kernel/softmax-xent/backward", test_softmax_xent_backward);
  g_test_add_func("/kernel/vmath", test_vmath);
  g_test_add_func("/kernel/layernorm/values-and-fd", test_layernorm);
  g_test_add_func("/kernel/gelu/values-and-fd", test_gelu);
  g_test_add_func("/kernel/attention/values-and-fd", test_attention);
  g_test_add_func("/kernel/embed/values-and-fd", test_embed);
  g_test_add_func("/kernel/sgd/step", test_sgd);
  g_test_add_func("/kernel/adamw/step", test_adamw);
  g_test_add_func("/kernel/init/params", test_init);
  g_test_add_func("/kernel/init/rng", test_rng);
  return g_test_run();
}
