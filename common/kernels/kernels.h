/* kernels.h — the layer kernels: forward and backward of every layer kind, the optimizer step
 * and deterministic initialisation.
 *
 * These are the numbers-in, numbers-out functions that the executor's layer table calls; they know
 * nothing about models, stages or MPI. They are written like llm.c:
 *
 *   - plain `float *` buffers plus `size_t` sizes; every buffer's shape is written next to it;
 *   - tensors are NCHW float32, batch dimension N first, row-major and contiguous;
 *   - no allocation inside: a kernel that needs temporary memory takes a `scratch` buffer whose
 *     size (in floats) the matching `pc_*_scratch_floats()` function returns;
 *   - every backward kernel ACCUMULATES (+=) into input gradients and parameter gradients, so a
 *     tensor that feeds two layers (a residual block) and gradients of several microbatches sum
 *     without extra code; callers zero gradient buffers when a sum starts;
 *   - an input gradient pointer (`din`) may be NULL when nobody needs it (the model's input), and
 *     so may an optional bias or its gradient;
 *   - single-threaded: GEMMs go to OpenBLAS's cblas_sgemm (run with OPENBLAS_NUM_THREADS=1), the
 *     rest are plain loops with a fixed reduction order, so results are bit-for-bit reproducible.
 *
 * Output sizes follow PyTorch with ceil_mode=False: OH = (H + 2*pad - K) / stride + 1 (floor).
 */
#ifndef PC_KERNELS_H
#define PC_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* shapes */

/* Output extent of a convolution or pooling window sliding over `in` (floor division, like
 * PyTorch's ceil_mode=False). Requires in + 2*pad >= k and stride >= 1. */
size_t pc_window_out_size(size_t in, size_t k, size_t stride, size_t pad);

/* ------------------------------------------------------------------------------------------ */
/* fully connected (fc.c) */

/* out = in · w^T + b.
 *   out: (N, OUT)   in: (N, IN)   w: (OUT, IN)   b: (OUT) or NULL for no bias. */
void pc_fc_forward(float *out, const float *in, const float *w, const float *b,
                   size_t N, size_t IN, size_t OUT);

/* Whether this CPU takes the streaming paths (AVX-512), and the most rows for which the forward and
 * the input gradient take them: each output's sum then has the same order for any N (fc.c). */
#define PC_FC_STREAM_FWD_ROWS 32
#define PC_FC_STREAM_DIN_ROWS 8
bool pc_fc_streams(void);

/* din += dout · w;  dw += dout^T · in;  db += sum over N of dout.
 *   din: (N, IN) or NULL   dw: (OUT, IN), or NULL for the input gradient alone (db untouched)
 *   db: (OUT) or NULL
 *   dout: (N, OUT)   in: (N, IN) (the forward input)   w: (OUT, IN). */
void pc_fc_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                    const float *w, size_t N, size_t IN, size_t OUT);

/* ------------------------------------------------------------------------------------------ */
/* 2-d convolution (conv.c, im2col.c) */

/* Square kernel K x K, equal stride and zero padding on both axes, no dilation, no groups;
 * OH = pc_window_out_size(H, K, stride, pad), OW likewise.
 *
 * Implementation: im2col + cblas_sgemm over tiles of the output: a cache-sized band of output
 * rows of one sample, or, where a plane is small, enough whole samples side by side for the GEMM
 * to be a few hundred columns wide, so that the deep, spatially small layers of VGG16 and
 * ResNet50 at 32x32 still run at GEMM speed. A 1x1, stride 1, unpadded convolution on large
 * planes skips im2col and reads the input directly.
 *
 * Floats of scratch that pc_conv_forward and pc_conv_backward need for these sizes (the same
 * buffer serves both; its contents are not kept between calls). */
size_t pc_conv_scratch_floats(size_t N, size_t IC, size_t H, size_t W, size_t OC, size_t K,
                              size_t stride, size_t pad);

/* out = conv(in, w) + b.
 *   out: (N, OC, OH, OW)   in: (N, IC, H, W)   w: (OC, IC, K, K)   b: (OC) or NULL
 *   scratch: pc_conv_scratch_floats(...) floats. */
void pc_conv_forward(float *out, const float *in, const float *w, const float *b, float *scratch,
                     size_t N, size_t IC, size_t H, size_t W, size_t OC, size_t K, size_t stride,
                     size_t pad);

/* din += conv^T(dout, w) (col2im of w^T · dout);  dw += dout · im2col(in)^T;  db += sum dout.
 *   din: (N, IC, H, W) or NULL   dw: (OC, IC, K, K), or NULL for the input gradient alone (db
 *   untouched)   db: (OC) or NULL
 *   dout: (N, OC, OH, OW)   in: (N, IC, H, W) (the forward input)   w: (OC, IC, K, K)
 *   scratch: pc_conv_scratch_floats(...) floats. */
void pc_conv_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                      const float *w, float *scratch, size_t N, size_t IC, size_t H, size_t W,
                      size_t OC, size_t K, size_t stride, size_t pad);

/* im2col for the output rows [oh0, oh1) of `nimg` consecutive images, laid side by side:
 *   col: (IC*K*K, nimg * (oh1 - oh0) * OW); row r = (c*K + kh)*K + kw, column
 *        i*(oh1 - oh0)*OW + (oh - oh0)*OW + ow holds in[i, c, oh*stride + kh - pad,
 *        ow*stride + kw - pad], or 0 where that lies in the padding
 *   in: (nimg, IC, H, W). oh1 <= OH; the whole plane is oh0 = 0, oh1 = OH. */
void pc_im2col(float *col, const float *in, size_t nimg, size_t IC, size_t H, size_t W, size_t K,
               size_t stride, size_t pad, size_t oh0, size_t oh1);

/* The adjoint of pc_im2col: din += col2im(col), same layouts and row band as pc_im2col.
 * Scratch-like: the entries of `col` that lie in the padding are overwritten with zero. */
void pc_col2im(float *din, float *col, size_t nimg, size_t IC, size_t H, size_t W, size_t K,
               size_t stride, size_t pad, size_t oh0, size_t oh1);

/* ------------------------------------------------------------------------------------------ */
/* pooling (pool.c, gap.c) */

/* Max pool, K x K window, stride, padding (padding never wins: it reads as -infinity).
 *   out: (N, C, OH, OW)   idx: (N, C, OH, OW), int32 argmax as h*W + w inside its (n, c) plane,
 *   kept for backward; ties go to the first position in row-major window order.
 *   in: (N, C, H, W). Requires pad <= K/2 so that every window sees at least one input. */
void pc_maxpool_forward(float *out, int32_t *idx, const float *in, size_t N, size_t C, size_t H,
                        size_t W, size_t K, size_t stride, size_t pad);

/* din[n, c, idx] += dout.
 *   din: (N, C, H, W)   dout: (N, C, OH, OW)   idx: (N, C, OH, OW) from pc_maxpool_forward. */
void pc_maxpool_backward(float *din, const float *dout, const int32_t *idx, size_t N, size_t C,
                         size_t H, size_t W, size_t OH, size_t OW);

/* Average pool with PyTorch's default count_include_pad=True: the divisor counts the padding
 * that the window covers (the window clipped to the padded input).
 *   out: (N, C, OH, OW)   in: (N, C, H, W). */
void pc_avgpool_forward(float *out, const float *in, size_t N, size_t C, size_t H, size_t W,
                        size_t K, size_t stride, size_t pad);

/* din += adjoint of the average.
 *   din: (N, C, H, W)   dout: (N, C, OH, OW). */
void pc_avgpool_backward(float *din, const float *dout, size_t N, size_t C, size_t H, size_t W,
                         size_t K, size_t stride, size_t pad);

/* Global average pool: out[n, c] = mean over the HW positions of in[n, c].
 *   out: (N, C)   in: (N, C, HW) where HW = H * W. */
void pc_gap_forward(float *out, const float *in, size_t N, size_t C, size_t HW);

/* din[n, c, :] += dout[n, c] / HW.
 *   din: (N, C, HW)   dout: (N, C). */
void pc_gap_backward(float *din, const float *dout, size_t N, size_t C, size_t HW);

/* ------------------------------------------------------------------------------------------ */
/* batch norm (bn.c) */

/* Per channel over (N, HW); HW = H * W, or 1 after a fully connected layer.
 *
 * Training mode: normalises with the microbatch's statistics (biased variance), writes them to
 * `mean` and `invstd` = 1/sqrt(var + eps) — the only state backward needs besides the forward
 * input — and updates the running statistics like PyTorch:
 *   running_mean = (1 - momentum) * running_mean + momentum * mean
 *   running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1),  M = N * HW
 * (the running variance is unbiased; with M == 1 it uses the biased one).
 *   out: (N, C, HW)   mean: (C)   invstd: (C)   running_mean: (C)   running_var: (C)
 *   in: (N, C, HW)   gamma: (C)   beta: (C). Statistics are summed in double. */
void pc_bn_forward_train(float *out, float *mean, float *invstd, float *running_mean,
                         float *running_var, const float *in, const float *gamma,
                         const float *beta, size_t N, size_t C, size_t HW, float momentum,
                         float eps);

/* Eval mode: out = gamma * (in - running_mean) / sqrt(running_var + eps) + beta.
 *   out: (N, C, HW)   in: (N, C, HW)   all others: (C). */
void pc_bn_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                        const float *running_mean, const float *running_var, size_t N, size_t C,
                        size_t HW, float eps);

/* Backward of training mode, recomputing xhat = (in - mean) * invstd:
 *   dbeta  += sum dout;   dgamma += sum dout * xhat;
 *   din    += gamma * invstd / M * (M * dout - sum dout - xhat * sum(dout * xhat)).
 *   din: (N, C, HW) or NULL   dgamma, dbeta: (C), or NULL for the split backward's input half
 *   dout: (N, C, HW)   in: (N, C, HW)
 *   gamma, mean, invstd: (C) (mean and invstd as pc_bn_forward_train wrote them). */
void pc_bn_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                    const float *gamma, const float *mean, const float *invstd, size_t N,
                    size_t C, size_t HW);

/* Layer normalisation over the last dimension D (torch.nn.LayerNorm(D), biased variance), row
 * by row; keeps each row's mean and 1/sqrt(var + eps).
 *   out, in: (rows, D)   mean, invstd: (rows)   gamma, beta: (D) */
void pc_layernorm_forward(float *out, float *mean, float *invstd, const float *in,
                          const float *gamma, const float *beta, size_t rows, size_t D,
                          float eps);

/* Its backward, accumulating: dgamma += sum dout * xhat, dbeta += sum dout (either NULL: the
 * split backward's input half), din += invstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) for
 * dxhat = dout * gamma (din NULL: the weight half).
 *   din, dout, in: (rows, D)   dgamma, dbeta, gamma: (D)   mean, invstd: (rows) */
void pc_layernorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *gamma, const float *mean,
                           const float *invstd, size_t rows, size_t D);

/* ------------------------------------------------------------------------------------------ */
/* elementwise (relu.c, add.c, gelu.c) */

/* GELU, GPT-2's tanh form: out = 0.5 in (1 + tanh(sqrt(2/pi) (in + 0.044715 in^3))).
 *   out, in: (n) */
void pc_gelu_forward(float *out, const float *in, size_t n);

/* din += dout * GELU'(in), from the saved INPUT.   din, dout, in: (n). */
void pc_gelu_backward(float *din, const float *dout, const float *in, size_t n);

/* out = max(in, 0); out may be in (in place).   out, in: (n). */
void pc_relu_forward(float *out, const float *in, size_t n);

/* din += dout where out > 0, from the saved OUTPUT.   din, dout, out: (n). */
void pc_relu_backward(float *din, const float *dout, const float *out, size_t n);

/* out = a + b (a residual join); out may alias a or b.   out, a, b: (n). */
void pc_add_forward(float *out, const float *a, const float *b, size_t n);

/* y += x, element by element (the accumulation of gradients).   y, x: (n). */
void pc_accumulate(float *y, const float *x, size_t n);

/* a = b = a + b, element by element (the two gradients of a tied weight).   a, b: (n). */
void pc_tie_sum(float *a, float *b, size_t n);

/* da += dout; db += dout (either may be NULL; they may be the same buffer).   all: (n). */
void pc_add_backward(float *da, float *db, const float *dout, size_t n);

/* ------------------------------------------------------------------------------------------ */
/* sequences (embed.c, attention.c) */

/* out[n, t] = wte[tokens[n, t]] + wpe[t] (wpe NULL: no position term). Token ids are floats;
 * one that is not an integer in [0, V) gives a row of NaN.
 *   out: (N, T, C)   tokens: (N, T)   wte: (V, C)   wpe: (T, C) or NULL */
void pc_embed_forward(float *out, const float *tokens, const float *wte, const float *wpe,
                      size_t N, size_t T, size_t V, size_t C);

/* dwte[tokens[n, t]] += dout[n, t]; dwpe[t] += dout[n, t] (dwpe may be NULL), in sample and
 * position order. */
void pc_embed_backward(float *dwte, float *dwpe, const float *dout, const float *tokens,
                       size_t N, size_t T, size_t C);

/* Causal self-attention, H heads of C / H: each row of qkv holds a position's query, key and
 * value (C each, heads side by side); att[n, h] = softmax(q k^T / sqrt(C / H)) over the
 * positions up to its own (0 above the diagonal); out[n, :, head h] = att[n, h] v.
 *   out: (N, T, C)   att: (N, H, T, T)   qkv: (N, T, 3C) */
void pc_attention_forward(float *out, float *att, const float *qkv, size_t N, size_t T,
                          size_t C, size_t H);

/* Its backward from the kept probabilities, accumulating into dqkv.
 *   dqkv, qkv: (N, T, 3C)   dout: (N, T, C)   att: (N, H, T, T)   scratch: (T, T) */
void pc_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                           float *scratch, size_t N, size_t T, size_t C, size_t H);

/* The scores per head that pc_attention_forward and _backward compute for T positions: the
 * rows go in blocks, each against the positions up to its last; between T (T + 1) / 2 and T^2. */
size_t pc_attention_scores(size_t T);

/* ------------------------------------------------------------------------------------------ */
/* softmax cross-entropy (softmax_xent.c) */

/* probs = softmax(logits) per row, with the row maximum subtracted first;
 * losses[n] = logsumexp(logits[n]) - logits[n, labels[n]] (natural log, computed from the
 * shifted logits so it never overflows). Returns how many rows have argmax == label (ties go to
 * the lowest class index).
 *   probs: (N, C)   losses: (N)   logits: (N, C)   labels: (N), each in [0, C). */
size_t pc_softmax_xent_forward(float *probs, float *losses, const float *logits,
                               const int32_t *labels, size_t N, size_t C);

/* dlogits += (probs - onehot(labels)) * scale. With scale = 1/B, B the whole minibatch, the
 * gradients of its microbatches sum to the gradient of the minibatch's mean loss.
 *   dlogits: (N, C)   probs: (N, C)   labels: (N). */
void pc_softmax_xent_backward(float *dlogits, const float *probs, const int32_t *labels, size_t N,
                              size_t C, float scale);

/* ------------------------------------------------------------------------------------------ */
/* 1 when x is an infinity or a NaN (exponent bits all ones), else 0: a bit test that vectorises,
 * for the health checks folded into other passes. */
static inline uint32_t pc_nonfinite(float x) {
  uint32_t bits;
  memcpy(&bits, &x, sizeof bits);
  return (bits & 0x7f800000u) == 0x7f800000u;
}

/* optimizers (optim.c) */

typedef enum { PC_OPTIM_SGD, PC_OPTIM_ADAMW } pc_optim_kind;

/* One optimizer step's settings, its learning rate already scheduled. */
typedef struct {
  pc_optim_kind kind;
  double lr;
  double weight_decay; /* SGD: an L2 penalty added to the gradient; AdamW: decoupled */
  double momentum;     /* SGD */
  double beta1, beta2, eps; /* AdamW */
  int64_t step;       /* AdamW: this step's number, 1 for the first (bias correction) */
  float grad_scale;   /* every gradient is multiplied by it first (clipping); 1: as it is */
} pc_optim;

/* One step of O for one parameter tensor W of N floats with gradient G (zeroed on return) and
 * the optimizer's state: S1 SGD's momentum buffer (NULL when momentum is 0) or AdamW's first
 * moment, S2 AdamW's second moment (NULL for SGD); states start at zero. Distinct arrays.
 * Returns false when a gradient was NaN or infinite (the step is taken all the same). */
bool pc_optim_step(const pc_optim *o, float *w, float *s1, float *s2, float *g, size_t n);

/* The sum of the squares of X's N floats, in double, in a fixed order. */
double pc_sum_squares(const float *x, size_t n);

/* One step of torch.optim.SGD (dampening 0, nesterov off), for one parameter tensor:
 *   g' = g + weight_decay * w;   v = momentum * v + g';   w -= lr * v
 * With momentum == 0 it is w -= lr * g' and `v` may be NULL. Start v at zero: torch's first
 * step (buffer = clone(g')) gives the same numbers, since momentum * 0 + g' == g' exactly.
 * Returns false when a gradient was NaN or infinite (checked in the same pass, at no extra
 * memory traffic; the step is taken all the same).
 * The same pass zeroes the gradient for the next accumulation.
 *   w: (n)   v: (n) momentum buffer (NULL when momentum is 0)   g: (n) the gradient, zeroed;
 *   three distinct arrays. */
bool pc_sgd_step(float *restrict w, float *restrict v, float *restrict g, size_t n, float lr,
                 float momentum, float weight_decay);

/* ------------------------------------------------------------------------------------------ */
/* deterministic random numbers and initialisation (init.c) */

/* A stream of random numbers is named by a 64-bit key derived from (seed, name): FNV-1a over the
 * name's bytes, mixed with the seed by splitmix64's finaliser. Number `index` of a stream is
 * splitmix64's output for state key + (index + 1) * golden gamma — counter based, so any element
 * can be computed alone, in any order, on any rank. */
uint64_t pc_rng_key(uint64_t seed, const char *name);

/* The raw 64 random bits number `index` of the stream `key`. */
uint64_t pc_rng_u64(uint64_t key, uint64_t index);

/* Uniform float in [0, 1) (24 random bits), element `index` of stream `key`. */
float pc_rng_uniform(uint64_t key, uint64_t index);

/* Standard normal float (Box-Muller on the two 32-bit halves of element `index`). */
float pc_rng_normal(uint64_t key, uint64_t index);

/* Convenience for data sets: element `index` of the stream named (seed, name). */
float pc_rand_uniform(uint64_t seed, const char *name, uint64_t index);
float pc_rand_normal(uint64_t seed, const char *name, uint64_t index);

/* x[i] = lo + (hi - lo) * pc_rng_uniform(key, first + i), for i < n.   x: (n). */
void pc_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t key, uint64_t first);

/* x[i] = mean + std * pc_rng_normal(key, first + i), for i < n.   x: (n). */
void pc_fill_normal(float *x, size_t n, float mean, float std, uint64_t key, uint64_t first);

/* Kaiming-uniform initialisation with a gain: w uniform in +-gain*sqrt(3/IN) (standard
 * deviation gain/sqrt(IN)), b uniform in +-1/sqrt(IN), from the streams (seed, "<name>.weight")
 * and (seed, "<name>.bias"). gain = 1/sqrt(3) is PyTorch's default nn.Linear initialisation;
 * sqrt(2) (He et al.) keeps deep ReLU networks trainable.   w: (OUT, IN)   b: (OUT) or NULL. */
void pc_init_fc(float *w, float *b, size_t IN, size_t OUT, float gain, uint64_t seed,
                const char *name);

/* The same for a convolution, fan_in = IC*K*K.   w: (OC, IC, K, K)   b: (OC) or NULL. */
void pc_init_conv(float *w, float *b, size_t IC, size_t OC, size_t K, float gain, uint64_t seed,
                  const char *name);

/* nn.BatchNorm2d's initial state: gamma = 1, beta = 0, running_mean = 0, running_var = 1.
 *   all: (C); running_mean and running_var may be NULL. */
/* An embedding's weights, normal with deviation STD, from the stream "<name>.weight" (an output
 * head tied to it draws the same numbers).   w: (n) */
void pc_init_embed(float *w, size_t n, float std, uint64_t seed, const char *name);

void pc_init_bn(float *gamma, float *beta, float *running_mean, float *running_var, size_t C);

#endif /* PC_KERNELS_H */
