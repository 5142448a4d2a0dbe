<?php
// Never reaches its loop: a syntax error.
$handler = function () {
    echo "unreachable"
};
while (torus_handle_request($handler)) {
}
