/* sgd.c — the optimizer step: torch.optim.SGD with momentum and weight decay (dampening 0,
 * nesterov off), one parameter tensor per call, with torch's order of float operations:
 *   g' = g + wd * w;   v = mu * v + g';   w = w + (-lr) * v.
 * The same pass zeroes g for the next accumulation and checks it for infinities and NaNs, so the
 * step streams each of its three arrays through memory once. */
#include "kernels.h"

bool pc_sgd_step(float *restrict w, float *restrict v, float *restrict g, size_t n, float lr,
                 float momentum, float weight_decay) {
  // w: (n)  v: (n) or NULL when momentum == 0  g: (n), zeroed on return; distinct arrays
  uint32_t bad = 0; /* checked in the same pass, while g is in registers: no extra traffic */
  if (momentum != 0.0f) {
    for (size_t i = 0; i < n; i++) {
      float d = g[i];
      g[i] = 0.0f;
      bad |= pc_nonfinite(d);
      if (weight_decay != 0.0f) d = d + weight_decay * w[i];
      v[i] = momentum * v[i] + d;
      w[i] = w[i] + (-lr) * v[i];
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      float d = g[i];
      g[i] = 0.0f;
      bad |= pc_nonfinite(d);
      if (weight_decay != 0.0f) d = d + weight_decay * w[i];
      w[i] = w[i] + (-lr) * d;
    }
  }
  return bad == 0;
}
