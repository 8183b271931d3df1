// libyaml (Debian: libyaml-dev, runtime libyaml-0-2): the event parser behind YAMLLoader.
#include <yaml.h>
