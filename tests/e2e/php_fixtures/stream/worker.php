<?php
// The scripts of this folder, from a worker: /upload reads the body, anything
// else streams big.php's response.
while (torus_handle_request(function () {
    if (parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) === '/upload') {
        require __DIR__ . '/upload.php';
    } else {
        require __DIR__ . '/big.php';
    }
})) {
}
