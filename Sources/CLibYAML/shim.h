// libyaml (Debian: libyaml-dev, linked from libyaml.a: Package.swift): the event parser behind YAMLLoader.
#include <yaml.h>
