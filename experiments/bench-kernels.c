/* bench-kernels.c — how fast the fc and conv kernels run next to bare cblas_sgemm.
 *
 * For the fully connected layer of the 32-layer FC network (batch 256, 1024 -> 1024, and
 * microbatches of 1 to 32 rows) and every distinct conv layer of VGG16 and ResNet50
 * (torchvision's, v1.5) at 3x32x32 with batch 32, it times pc_*_forward and pc_*_backward and,
 * in the same run, the bare cblas_sgemm calls of the same GEMM shapes over the whole batch
 * (forward, weight gradient, input gradient; no im2col, no copies), and prints a table on stdout:
 * medians over repetitions, GFLOP/s (a multiply-add counts 2), and the kernel's throughput as a
 * percentage of the bare GEMMs'. The first conv of each network computes no input gradient
 * (nothing needs it), in both columns. The "total" rows weight every layer by how often it
 * occurs in the network.
 *
 * Usage: OPENBLAS_NUM_THREADS=1 bench-kernels [repetitions (default 7)] [fc|vgg16|resnet50]... */
#include <cblas.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "timing.h"

typedef struct {
  const char *name;
  size_t IC, H, OC, K, stride, pad;
  int count;  // occurrences in the network
  bool bias;
  bool first; // the network's first layer: no input gradient
} conv_layer;

#define VGG(name, ic, h, oc, count, first) {name, ic, h, oc, 3, 1, 1, count, true, first}
static const conv_layer vgg16[] = {
    VGG("conv1_1", 3, 32, 64, 1, true),     VGG("conv1_2", 64, 32, 64, 1, false),
    VGG("conv2_1", 64, 16, 128, 1, false),  VGG("conv2_2", 128, 16, 128, 1, false),
    VGG("conv3_1", 128, 8, 256, 1, false),  VGG("conv3_2,3", 256, 8, 256, 2, false),
    VGG("conv4_1", 256, 4, 512, 1, false),  VGG("conv4_2,3", 512, 4, 512, 2, false),
    VGG("conv5_1-3", 512, 2, 512, 3, false),
};

#define RN(name, ic, h, oc, k, s, p, count) {name, ic, h, oc, k, s, p, count, false, false}
static const conv_layer resnet50[] = {
    {"conv1 7x7s2", 3, 32, 64, 7, 2, 3, 1, false, true},
    RN("l1.0.conv1", 64, 8, 64, 1, 1, 0, 1),        RN("l1.x.conv1", 256, 8, 64, 1, 1, 0, 2),
    RN("l1.x.conv2", 64, 8, 64, 3, 1, 1, 3),        RN("l1.x.conv3", 64, 8, 256, 1, 1, 0, 3),
    RN("l1.0.down", 64, 8, 256, 1, 1, 0, 1),        RN("l2.0.conv1", 256, 8, 128, 1, 1, 0, 1),
    RN("l2.0.conv2 s2", 128, 8, 128, 3, 2, 1, 1),   RN("l2.0.down s2", 256, 8, 512, 1, 2, 0, 1),
    RN("l2.x.conv1", 512, 4, 128, 1, 1, 0, 3),      RN("l2.x.conv2", 128, 4, 128, 3, 1, 1, 3),
    RN("l2.x.conv3", 128, 4, 512, 1, 1, 0, 4),      RN("l3.0.conv1", 512, 4, 256, 1, 1, 0, 1),
    RN("l3.0.conv2 s2", 256, 4, 256, 3, 2, 1, 1),   RN("l3.0.down s2", 512, 4, 1024, 1, 2, 0, 1),
    RN("l3.x.conv1", 1024, 2, 256, 1, 1, 0, 5),     RN("l3.x.conv2", 256, 2, 256, 3, 1, 1, 5),
    RN("l3.x.conv3", 256, 2, 1024, 1, 1, 0, 6),     RN("l4.0.conv1", 1024, 2, 512, 1, 1, 0, 1),
    RN("l4.0.conv2 s2", 512, 2, 512, 3, 2, 1, 1),   RN("l4.0.down s2", 1024, 2, 2048, 1, 2, 0, 1),
    RN("l4.x.conv1", 2048, 1, 512, 1, 1, 0, 2),     RN("l4.x.conv2", 512, 1, 512, 3, 1, 1, 2),
    RN("l4.x.conv3", 512, 1, 2048, 1, 1, 0, 3),
};

static float *rand_buf(size_t n, const char *name) {
  float *x = g_new(float, n);
  pc_fill_uniform(x, n, -1.0f, 1.0f, pc_rng_key(1, name), 0);
  return x;
}

// A product (M, N, K) as the caller lays it out.
static void gemm(bool ta, bool tb, size_t M, size_t N, size_t K, const float *A, const float *B,
                 float beta, float *C) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (int)M, (int)N, (int)K, 1.0f, A, ta ? (int)M : (int)K, B, tb ? (int)K : (int)N,
              beta, C, (int)N);
}

typedef struct {
  double fwd, bwd, bare, flops; // seconds (medians) and FLOPs of forward + backward
} result;

static void print_header(const char *title) {
  printf("\n%s\n", title);
  printf("%-16s %-22s %5s %9s %9s %9s %8s %9s %8s %6s\n", "layer", "shape", "count", "fwd_ms",
         "bwd_ms", "total_ms", "GFLOP/s", "sgemm_ms", "GFLOP/s", "%sgemm");
}

static void print_row(const char *name, const char *shape, int count, result r) {
  double tot = r.fwd + r.bwd;
  printf("%-16s %-22s %5d %9.3f %9.3f %9.3f %8.1f %9.3f %8.1f %5.0f%%\n", name, shape, count,
         1e3 * r.fwd, 1e3 * r.bwd, 1e3 * tot, 1e-9 * r.flops / tot, 1e3 * r.bare,
         1e-9 * r.flops / r.bare, 100.0 * r.bare / tot);
}

static result bench_fc(size_t N, size_t IN, size_t OUT, int reps) {
  float *in = rand_buf(N * IN, "in"), *w = rand_buf(OUT * IN, "w"), *b = rand_buf(OUT, "b");
  float *out = g_new(float, N * OUT), *dout = rand_buf(N * OUT, "dout");
  float *din = g_new0(float, N * IN), *dw = g_new0(float, OUT * IN), *db = g_new0(float, OUT);
  double *tf = g_new(double, reps), *tb = g_new(double, reps), *tg = g_new(double, reps);
  for (int r = -1; r < reps; r++) { // r == -1 warms up
    double t0 = pc_now_s();
    pc_fc_forward(out, in, w, b, N, IN, OUT);
    double t1 = pc_now_s();
    pc_fc_backward(din, dw, db, dout, in, w, N, IN, OUT);
    double t2 = pc_now_s();
    gemm(false, true, N, OUT, IN, in, w, 0.0f, out);
    gemm(false, false, N, IN, OUT, dout, w, 1.0f, din);
    gemm(true, false, OUT, IN, N, dout, in, 1.0f, dw);
    double t3 = pc_now_s();
    if (r >= 0) tf[r] = t1 - t0, tb[r] = t2 - t1, tg[r] = t3 - t2;
  }
  result res = {pc_median(tf, reps), pc_median(tb, reps), pc_median(tg, reps), 3.0 * 2.0 * N * IN * OUT};
  g_free(in), g_free(w), g_free(b), g_free(out), g_free(dout), g_free(din), g_free(dw);
  g_free(db), g_free(tf), g_free(tb), g_free(tg);
  return res;
}

static result bench_conv(const conv_layer *l, size_t N, int reps) {
  size_t H = l->H, OH = pc_window_out_size(H, l->K, l->stride, l->pad), OHW = OH * OH;
  size_t KK = l->IC * l->K * l->K, nin = N * l->IC * H * H, nout = N * l->OC * OHW;
  size_t nw = l->OC * KK, ns = pc_conv_scratch_floats(N, l->IC, H, H, l->OC, l->K, l->stride,
                                                      l->pad);
  float *in = rand_buf(nin, "in"), *w = rand_buf(nw, "w"), *b = rand_buf(l->OC, "b");
  float *out = g_new(float, nout), *dout = rand_buf(nout, "dout"), *din = g_new0(float, nin);
  float *dw = g_new0(float, nw), *db = g_new0(float, l->OC), *scratch = g_new(float, ns + 1);
  // the bare GEMMs' operands: the whole batch's im2col matrix and its gradient
  size_t cols = N * OHW;
  float *X = rand_buf(KK * cols, "X"), *Y = g_new(float, l->OC * cols);
  float *dY = rand_buf(l->OC * cols, "dY"), *dX = g_new(float, KK * cols);
  double *tf = g_new(double, reps), *tb = g_new(double, reps), *tg = g_new(double, reps);
  float *bias = l->bias ? b : NULL, *dbias = l->bias ? db : NULL;
  float *dinput = l->first ? NULL : din;
  for (int r = -1; r < reps; r++) {
    double t0 = pc_now_s();
    pc_conv_forward(out, in, w, bias, scratch, N, l->IC, H, H, l->OC, l->K, l->stride, l->pad);
    double t1 = pc_now_s();
    pc_conv_backward(dinput, dw, dbias, dout, in, w, scratch, N, l->IC, H, H, l->OC, l->K,
                     l->stride, l->pad);
    double t2 = pc_now_s();
    gemm(false, false, l->OC, cols, KK, w, X, 0.0f, Y);         // Y = W X
    gemm(false, true, l->OC, KK, cols, dY, X, 1.0f, dw);        // dW += dY X^T
    if (!l->first) gemm(true, false, KK, cols, l->OC, w, dY, 0.0f, dX); // dX = W^T dY
    double t3 = pc_now_s();
    if (r >= 0) tf[r] = t1 - t0, tb[r] = t2 - t1, tg[r] = t3 - t2;
  }
  double fwd_flops = 2.0 * (double)l->OC * (double)KK * (double)cols;
  result res = {pc_median(tf, reps), pc_median(tb, reps), pc_median(tg, reps),
                fwd_flops * (l->first ? 2.0 : 3.0)};
  g_free(in), g_free(w), g_free(b), g_free(out), g_free(dout), g_free(din), g_free(dw);
  g_free(db), g_free(scratch), g_free(X), g_free(Y), g_free(dY), g_free(dX), g_free(tf);
  g_free(tb), g_free(tg);
  return res;
}

static void bench_net(const char *title, const conv_layer *layers, size_t n, size_t N, int reps) {
  print_header(title);
  result total = {0, 0, 0, 0};
  for (size_t i = 0; i < n; i++) {
    const conv_layer *l = &layers[i];
    size_t OH = pc_window_out_size(l->H, l->K, l->stride, l->pad);
    char shape[64];
    snprintf(shape, sizeof shape, "%zux%zu->%zu k%zus%zu %zu->%zu", l->IC, l->H, l->OC, l->K,
             l->stride, l->H, OH);
    result r = bench_conv(l, N, reps);
    print_row(l->name, shape, l->count, r);
    total.fwd += l->count * r.fwd, total.bwd += l->count * r.bwd;
    total.bare += l->count * r.bare, total.flops += l->count * r.flops;
    fflush(stdout);
  }
  print_row("total", "(weighted by count)", 1, total);
}

int main(int argc, char **argv) {
  int reps = 7;
  bool fc = false, vgg = false, resnet = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "fc") == 0) fc = true;
    else if (strcmp(argv[i], "vgg16") == 0) vgg = true;
    else if (strcmp(argv[i], "resnet50") == 0) resnet = true;
    else if (atoi(argv[i]) > 0) reps = atoi(argv[i]);
    else {
      fprintf(stderr, "usage: %s [repetitions] [fc|vgg16|resnet50]...\n", argv[0]);
      return 2;
    }
  }
  if (!fc && !vgg && !resnet) fc = vgg = resnet = true;
  const char *threads = getenv("OPENBLAS_NUM_THREADS");
  const char *coretype = getenv("OPENBLAS_CORETYPE");
  printf("# bench-kernels: medians of %d repetitions, OPENBLAS_NUM_THREADS=%s, OpenBLAS core %s"
         " (OPENBLAS_CORETYPE=%s)\n",
         reps, threads ? threads : "(unset)", openblas_get_corename(), coretype ? coretype : "");
  // OpenBLAS 0.3.21's DYNAMIC_ARCH does not know recent Xeons and falls back to its SSE3 kernels
  if (strcmp(openblas_get_corename(), "Prescott") == 0)
    fprintf(stderr, "bench-kernels: OpenBLAS runs its Prescott (SSE3) kernels; on an AVX-512 CPU "
                    "set OPENBLAS_CORETYPE=SkylakeX (about 4x faster GEMMs)\n");
  printf("# GFLOP/s = forward + backward FLOPs / time; %%sgemm = bare sgemm time / kernel time\n");
  if (fc) {
    print_header("fully connected, batch 256");
    result r = bench_fc(256, 1024, 1024, reps);
    print_row("fc", "256x1024->1024", 1, r);
    // a pipeline's microbatches: the weights streamed once per pass
    print_header("fully connected, small microbatches");
    for (size_t n = 1; n <= 32; n *= 2) {
      char shape[32];
      snprintf(shape, sizeof shape, "%zux1024->1024", n);
      print_row("fc", shape, 1, bench_fc(n, 1024, 1024, reps));
    }
  }
  if (vgg) bench_net("VGG16 convs, 3x32x32, batch 32", vgg16, G_N_ELEMENTS(vgg16), 32, reps);
  if (resnet)
    bench_net("ResNet50 convs, 3x32x32, batch 32", resnet50, G_N_ELEMENTS(resnet50), 32, reps);
  return 0;
}
