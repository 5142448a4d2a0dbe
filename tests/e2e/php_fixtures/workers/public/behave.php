<?php
// A worker written the way Octane's and Symfony Runtime's are (lib/loop.php),
// running lib/behaviours.php on the path of each request. With the
// environment variable SESSION_HANDLER_AT_BOOT (env=...), it sets its session
// save handler before the loop.
require __DIR__ . '/../lib/behaviours.php';
$session = null;
if (getenv('SESSION_HANDLER_AT_BOOT')) {
    $session = new OwnSessionHandler(markers_dir());
    session_set_save_handler($session, true);
}
$served = 0;
$handler = static function () use (&$served, &$session): void {
    header('X-Served: ' . ++$served);
    behave(trim((string) parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH), '/'), $session);
};
require __DIR__ . '/../lib/loop.php';
