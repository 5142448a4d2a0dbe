<?php
// Never reaches its loop: the boot throws.
throw new RuntimeException('cannot boot the application');
while (torus_handle_request(function () {})) {
}
