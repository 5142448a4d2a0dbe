<?php
// Each request answers with its $_SERVER as it found it (less what changes by itself from
// request to request); ?spoil then changes $_SERVER, which the next request must not see.
$requests = 0;
$handler = function () use (&$requests) {
    $requests++;
    $seen = $_SERVER;
    unset($seen['REQUEST_TIME'], $seen['REQUEST_TIME_FLOAT'], $seen['REMOTE_PORT']);
    if (isset($_GET['spoil'])) {
        unset($_SERVER['TORUS_E2E_ENV'], $_SERVER['HTTP_HOST'], $_SERVER['SERVER_SOFTWARE'],
              $_SERVER['REQUEST_METHOD']);
        $_SERVER['PATH'] = 'changed';
        $_SERVER['GATEWAY_INTERFACE'] .= '-changed';
        $_SERVER['HTTP_USER_AGENT'] .= '-changed';
        $_SERVER['ADDED_BY_REQUEST'] = 'yes';
    }
    header('Content-Type: application/json');
    echo json_encode(['requests' => $requests, 'server' => $seen, 'keys' => array_keys($seen),
        'cwd' => getcwd()]);
};
while (torus_handle_request($handler)) {
}
