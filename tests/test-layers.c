/* test-layers.c — the layer table: output shape, parameters, FLOPs and saved bytes of every kind
 * against values computed by hand. */
#include <glib.h>
#include <math.h>

#include "layer.h"
#include "test-util.h"

static const pc_layer *layer(const pc_model *m, const char *name) {
  int i = pc_model_find(m, name);
  g_assert_cmpint(i, >=, 0);
  return &m->layers[i];
}

static void check_shape(const pc_layer *l, const char *want) {
  char buf[PC_SHAPE_STRLEN];
  g_assert_cmpstr(pc_shape_format(&l->out, buf, sizeof buf), ==, want);
}

static void test_table(void) {
  for (int k = 0; k < PC_LAYER_KIND_COUNT; k++) {
    const pc_layer_ops *ops = pc_layer_ops_of(k);
    g_assert_nonnull(ops);
    g_assert_cmpint(pc_layer_kind_from_name(ops->name), ==, k);
    g_assert_nonnull(ops->infer);
    g_assert_nonnull(ops->fwd_flops);
    g_assert_nonnull(ops->bwd_flops);
    g_assert_nonnull(ops->saved_bytes);
  }
  g_assert_cmpint(pc_layer_kind_from_name("conv3d"), ==, -1);
}

static void test_fc(void) {
  pc_model *m = pc_test_model("input 100\nfc a out=30\nfc b out=7 bias=0\n");
  const pc_layer *a = layer(m, "a"), *b = layer(m, "b");
  check_shape(a, "30");
  g_assert_cmpint(pc_layer_params(a), ==, 100 * 30 + 30);
  g_assert_cmpint(pc_layer_params(b), ==, 30 * 7);
  g_assert_cmpfloat(pc_layer_fwd_macs(a), ==, 3000.0);
  g_assert_cmpfloat(pc_layer_fwd_flops(a), ==, 2.0 * 3000 + 30);
  g_assert_cmpfloat(pc_layer_bwd_flops(a), ==, 4.0 * 3000 + 30);
  g_assert_cmpfloat(pc_layer_fwd_flops(b), ==, 2.0 * 210);
  g_assert_cmpint(pc_layer_saved_bytes(a), ==, 400);
  g_assert_cmpint(pc_layer_out_bytes(b), ==, 28);
  pc_model_free(m);
}

static void test_conv(void) {
  pc_model *m = pc_test_model("input 3x32x32\n"
                              "conv a out=16 k=3 pad=1\n"
                              "conv b out=8 k=3 stride=2 bias=0\n"
                              "conv c out=4 k=7 stride=2 pad=3\n");
  const pc_layer *a = layer(m, "a"), *b = layer(m, "b"), *c = layer(m, "c");
  check_shape(a, "16x32x32");
  check_shape(b, "8x15x15"); /* (32 - 3) / 2 + 1 */
  check_shape(c, "4x8x8");   /* (15 + 6 - 7) / 2 + 1 */
  g_assert_cmpint(pc_layer_params(a), ==, 16 * 3 * 9 + 16);
  g_assert_cmpint(pc_layer_params(b), ==, 8 * 16 * 9);
  g_assert_cmpfloat(pc_layer_fwd_macs(a), ==, 16.0 * 32 * 32 * 3 * 9);
  g_assert_cmpfloat(pc_layer_fwd_flops(a), ==, 2.0 * 16 * 32 * 32 * 3 * 9 + 16 * 32 * 32);
  g_assert_cmpfloat(pc_layer_fwd_flops(b), ==, 2.0 * 8 * 15 * 15 * 16 * 9);
  g_assert_cmpfloat(pc_layer_bwd_flops(b), ==, 4.0 * 8 * 15 * 15 * 16 * 9);
  g_assert_cmpint(pc_layer_saved_bytes(b), ==, 16 * 32 * 32 * 4);
  pc_model_free(m);
}

static void test_pools(void) {
  pc_model *m = pc_test_model("input 4x9x9\n"
                              "maxpool a k=3 stride=2 pad=1\n"
                              "avgpool b k=2\n"
                              "gap g\n"
                              "flatten f\n");
  const pc_layer *a = layer(m, "a"), *b = layer(m, "b");
  check_shape(a, "4x5x5"); /* (9 + 2 - 3) / 2 + 1 */
  check_shape(b, "4x2x2");
  check_shape(layer(m, "g"), "4x1x1");
  check_shape(layer(m, "f"), "4");
  g_assert_cmpint(pc_layer_params(a), ==, 0);
  g_assert_cmpfloat(pc_layer_fwd_flops(a), ==, 4.0 * 25 * 9);
  g_assert_cmpint(pc_layer_saved_bytes(a), ==, 4 * 25 * 4); /* int32 argmax per output */
  g_assert_cmpint(pc_layer_saved_bytes(b), ==, 0);
  g_assert_cmpfloat(pc_layer_fwd_flops(layer(m, "g")), ==, 4.0 * 4);
  g_assert_cmpfloat(pc_layer_fwd_flops(layer(m, "f")), ==, 0);
  pc_model_free(m);
}

static void test_bn_relu_add_xent(void) {
  pc_model *m = pc_test_model("input 6x4x4\n"
                              "residual r { bn n eps=0.001\nrelu u }\n"
                              "flatten\nsoftmax_xent loss\n");
  const pc_layer *n = layer(m, "n"), *u = layer(m, "u"), *r = layer(m, "r");
  g_assert_cmpint(pc_layer_params(n), ==, 12);
  g_assert_cmpfloat(((const pc_bn_attrs *)n->attrs)->eps, ==, 0.001);
  g_assert_cmpfloat(((const pc_bn_attrs *)n->attrs)->momentum, ==, 0.1);
  g_assert_cmpint(pc_layer_saved_bytes(n), ==, 96 * 4);
  g_assert_cmpint(pc_layer_saved_bytes(u), ==, 96 * 4);
  g_assert_cmpint(r->kind, ==, PC_LAYER_KIND_ADD);
  g_assert_cmpint(r->ninputs, ==, 2);
  g_assert_cmpint(r->inputs[0], ==, u->index);
  g_assert_cmpint(r->inputs[1], ==, -1);
  check_shape(r, "6x4x4");
  const pc_layer *loss = layer(m, "loss");
  check_shape(loss, "1");
  g_assert_cmpint(pc_layer_saved_bytes(loss), ==, 96 * 4);
  g_assert_cmpint(pc_model_loss_layer(m), ==, loss->index);
  pc_model_free(m);
}

static void test_mlp32(void) {
  pc_model *m = pc_test_load("mlp32.model", NULL);
  g_assert_cmpint(m->nlayers, ==, 64);
  g_assert_cmpint(pc_model_params(m), ==, 31 * (1024 * 1024 + 1024) + (1024 * 10 + 10));
  pc_model_free(m);
  m = pc_test_load("mlp32.model", "width=2048,classes=1000,input=512");
  g_assert_cmpint(pc_model_params(m),
                  ==, (512 * 2048 + 2048) + 30 * (2048 * 2048 + 2048) + 2048 * 1000 + 1000);
  pc_model_free(m);
}

/* torchvision's published figures for the ImageNet forms. */
static void test_imagenet_counts(void) {
  pc_model *m = pc_test_load("vgg16.model", "input=3x224x224,classes=1000");
  g_assert_cmpint(pc_model_params(m), ==, 138357544);
  double macs = 0;
  for (int i = 0; i < m->nlayers; i++) macs += pc_layer_fwd_macs(&m->layers[i]);
  g_assert_cmpfloat(fabs(macs / 1e9 - 15.47), <, 0.01);
  pc_model_free(m);
  m = pc_test_load("resnet50.model", "input=3x224x224,classes=1000");
  g_assert_cmpint(pc_model_params(m), ==, 25557032);
  macs = 0;
  for (int i = 0; i < m->nlayers; i++) macs += pc_layer_fwd_macs(&m->layers[i]);
  g_assert_cmpfloat(fabs(macs / 1e9 - 4.09), <, 0.01);
  pc_model_free(m);
}

/* A sequence model: embedding, fc per position, attention, the loss at every position, the
 * head tied to the embedding (its weight counted once, held twice). */
static void test_sequence(void) {
  pc_model *m = pc_test_model("input 10\n"
                              "embed wte vocab=50 dim=8\n"
                              "fc qkv out=24\n"
                              "attention att heads=2\n"
                              "fc head out=50 bias=0 tied=1\n"
                              "softmax_xent loss\n");
  const pc_layer *e = layer(m, "wte"), *q = layer(m, "qkv"), *a = layer(m, "att");
  const pc_layer *h = layer(m, "head"), *x = layer(m, "loss");
  check_shape(e, "10x8");
  check_shape(q, "10x24");
  check_shape(a, "10x8");
  check_shape(h, "10x50");
  g_assert_cmpint(pc_layer_params(e), ==, 50 * 8 + 10 * 8);
  g_assert_cmpint(pc_layer_params(q), ==, 8 * 24 + 24);
  g_assert_cmpfloat(pc_layer_fwd_macs(q), ==, 10.0 * 8 * 24);
  g_assert_cmpfloat(pc_layer_fwd_flops(q), ==, 2.0 * 10 * 8 * 24 + 10 * 24);
  g_assert_cmpint(pc_layer_saved_bytes(a), ==, 2 * 10 * 10 * 4);
  g_assert_cmpfloat(pc_layer_fwd_flops(a), ==, 4.0 * 10 * 80 + 5.0 * 2 * 10 * 10);
  g_assert_cmpint(h->tie, ==, e->index);
  g_assert_cmpint(q->tie, ==, -1);
  g_assert_cmpint(pc_layer_params(h), ==, 0);
  g_assert_cmpint(pc_layer_held_params(h), ==, 50 * 8);
  g_assert_cmpint(pc_model_params(m), ==, 480 + 216);
  g_assert_cmpint(pc_model_positions(m), ==, 10);
  g_assert_cmpint(pc_model_embed(m), ==, 0);
  g_assert_cmpint(pc_layer_saved_bytes(x), ==, (10 * 50 + 10) * 4);
  pc_model_free(m);
  /* GPT-2 small as models/gpt2.model writes it: Hugging Face's parameter count */
  m = pc_test_load("gpt2.model", NULL);
  g_assert_cmpint(pc_model_params(m), ==, 124439808);
  g_assert_cmpint(pc_model_positions(m), ==, 1024);
  pc_model_free(m);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/layer/table", test_table);
  g_test_add_func("/layer/fc/shape-params-flops", test_fc);
  g_test_add_func("/layer/conv/shape-params-flops", test_conv);
  g_test_add_func("/layer/pool/shape-params-flops", test_pools);
  g_test_add_func("/layer/bn-relu-add-xent", test_bn_relu_add_xent);
  g_test_add_func("/layer/model/mlp32-params", test_mlp32);
  g_test_add_func("/layer/sequence", test_sequence);
  g_test_add_func("/layer/model/imagenet-counts", test_imagenet_counts);
  return g_test_run();
}
