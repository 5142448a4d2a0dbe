<?php
// The worker of the extension tests: every request runs the script it names
// (check.php or session.php), inside the worker.
$handler = static function (): void {
    $script = basename(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH));
    if (!in_array($script, ['check.php', 'session.php'], true)) {
        http_response_code(404);
        return;
    }
    require __DIR__ . '/' . $script;
};
while (torus_handle_request($handler)) {
    gc_collect_cycles();
}
