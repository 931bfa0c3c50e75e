"""sd-devkit: the AWS emulator and the guided demo, outside the sd-operator product."""
