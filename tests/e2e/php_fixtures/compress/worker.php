<?php
// Worker mode: every request runs page.php.
while (torus_handle_request(function () { require __DIR__ . '/page.php'; })) {
}
