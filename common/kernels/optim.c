/* optim.c — the optimizer steps, one parameter tensor per call, each with torch's order of float
 * operations:
 *   SGD (torch.optim.SGD, dampening 0, nesterov off):
 *     g' = g + wd * w;   v = mu * v + g';   w = w + (-lr) * v
 *   AdamW (torch.optim.AdamW's single-tensor step):
 *     w = w * (1 - lr * wd);   m = m * b1 + (1 - b1) * g;   v = v * b2 + (1 - b2) * g * g;
 *     w = w + (-lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * with the gradient first multiplied by the clipping factor (torch.nn.utils.clip_grad_norm_
 * multiplies every gradient by it, 1 included). The same pass zeroes g for the next accumulation
 * and checks it for infinities and NaNs, so the step streams each array through memory once. */
#include <math.h>

#include "kernels.h"

static bool sgd(float *restrict w, float *restrict v, float *restrict g, size_t n, float lr,
                float momentum, float weight_decay, float scale) {
  uint32_t bad = 0; /* checked in the same pass, while g is in registers: no extra traffic */
  if (momentum == 0.0f) v = NULL;
  for (size_t i = 0; i < n; i++) {
    float d = g[i];
    g[i] = 0.0f;
    bad |= pc_nonfinite(d);
    if (scale != 1.0f) d = d * scale;
    if (weight_decay != 0.0f) d = d + weight_decay * w[i];
    if (v) d = v[i] = momentum * v[i] + d;
    w[i] = w[i] + (-lr) * d;
  }
  return bad == 0;
}

bool pc_sgd_step(float *restrict w, float *restrict v, float *restrict g, size_t n, float lr,
                 float momentum, float weight_decay) {
  return sgd(w, v, g, n, lr, momentum, weight_decay, 1.0f);
}

static bool adamw(const pc_optim *o, float *restrict w, float *restrict m, float *restrict v,
                  float *restrict g, size_t n) {
  /* the scalars as torch makes them: Python floats (double), rounded to float where a tensor op
   * takes them */
  double t = (double)o->step, lr = o->lr, b1 = o->beta1, b2 = o->beta2;
  const float decay = (float)(1.0 - lr * o->weight_decay), a1 = (float)(1.0 - b1),
              a2 = (float)(1.0 - b2), fb1 = (float)b1, fb2 = (float)b2, eps = (float)o->eps,
              step_size = (float)(-(lr / (1.0 - pow(b1, t)))),
              bc2_sqrt = (float)sqrt(1.0 - pow(b2, t)), scale = o->grad_scale;
  uint32_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    float d = g[i];
    g[i] = 0.0f;
    bad |= pc_nonfinite(d);
    if (scale != 1.0f) d = d * scale;
    w[i] = w[i] * decay;
    m[i] = m[i] * fb1 + a1 * d;
    v[i] = v[i] * fb2 + a2 * d * d;
    w[i] = w[i] + step_size * m[i] / (sqrtf(v[i]) / bc2_sqrt + eps);
  }
  return bad == 0;
}

bool pc_optim_step(const pc_optim *o, float *w, float *s1, float *s2, float *g, size_t n) {
  if (o->kind == PC_OPTIM_ADAMW) return adamw(o, w, s1, s2, g, n);
  return sgd(w, s1, g, n, (float)o->lr, (float)o->momentum, (float)o->weight_decay,
             o->grad_scale);
}

double pc_sum_squares(const float *x, size_t n) {
  double s[4] = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; k++) s[k] += (double)x[i + k] * x[i + k];
  for (; i < n; i++) s[0] += (double)x[i] * x[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}
