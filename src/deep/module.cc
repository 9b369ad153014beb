// libsouk_deep.so's entry point (see deep.h).
#include "deep/deep.h"

extern "C" void souk_deep_register() {
  souk::deep::RegisterModels();
  souk::deep::RegisterEncoders();
}
