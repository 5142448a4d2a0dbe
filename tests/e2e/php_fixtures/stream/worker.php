<?php
// The same response as big.php, from a worker.
while (torus_handle_request(function () {
    require __DIR__ . '/big.php';
})) {
}
