// Intentionally small: layers/layer.h holds conventions only.
#include "layers/layer.h"
