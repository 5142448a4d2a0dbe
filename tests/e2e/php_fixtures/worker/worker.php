<?php
// A worker script on Torus's loop function. $requests counts the requests
// this run of the script has handled: it lives across requests, and starts
// again from 0 whenever the worker is restarted.
$requests = 0;
// The worker's own $_SERVER: FRANKENPHP_WORKER is set here, at boot, not in each request's.
$boot = ['FRANKENPHP_WORKER' => $_SERVER['FRANKENPHP_WORKER'] ?? null,
         'TORUS_WORKER' => $_SERVER['TORUS_WORKER'] ?? null];

$handler = function () use (&$requests, $boot) {
    $requests++;
    switch (parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH)) {
        case '/count':
            echo $requests;
            break;

        case '/dump': // what this request sees
            $files = [];
            foreach ($_FILES as $field => $file) {
                $files[$field] = ['name' => $file['name'], 'size' => $file['size'],
                    'tmp_name' => $file['tmp_name'], 'tmp_exists' => is_file($file['tmp_name'])];
            }
            header('Content-Type: application/json');
            echo json_encode([
                'requests' => $requests,
                'FRANKENPHP_WORKER' => $_SERVER['FRANKENPHP_WORKER'] ?? null,
                'TORUS_WORKER' => $_SERVER['TORUS_WORKER'] ?? null,
                'boot' => $boot,
                'REQUEST_METHOD' => $_SERVER['REQUEST_METHOD'],
                'REQUEST_URI' => $_SERVER['REQUEST_URI'],
                'REQUEST_TIME_FLOAT' => $_SERVER['REQUEST_TIME_FLOAT'],
                'REMOTE_PORT' => $_SERVER['REMOTE_PORT'],
                'HTTP_X_TEST' => $_SERVER['HTTP_X_TEST'] ?? null,
                'headers' => getallheaders(),
                'GET' => $_GET,
                'POST' => $_POST,
                'COOKIE' => $_COOKIE,
                'FILES' => $files,
                'REQUEST' => $_REQUEST,
                'putenv' => getenv('TORUS_E2E_PUTENV'),
                'env' => getenv('TORUS_E2E_ENV'),
            ]);
            break;

        case '/leave-state': // state that must not reach the next request
            http_response_code(418);
            header('X-Left-Behind: yes');
            putenv('TORUS_E2E_PUTENV=leaked');
            echo getenv('TORUS_E2E_PUTENV');
            break;

        case '/session': // this client's visits; ?set=VALUE stores a value
            session_start();
            $_SESSION['visits'] = ($_SESSION['visits'] ?? 0) + 1;
            if (isset($_GET['set'])) {
                $_SESSION['value'] = $_GET['set'];
            }
            header('Content-Type: application/json');
            echo json_encode(['id' => session_id(), 'visits' => $_SESSION['visits'],
                'value' => $_SESSION['value'] ?? null]);
            break;

        case '/buffered': // a buffer the handler leaves open is still sent
            ob_start();
            echo 'left in an open buffer';
            break;

        case '/stream': // flush() streams from a worker too
            echo "first part\n";
            flush();
            sleep(1);
            echo "second part\n";
            break;

        case '/gzip': // compressed only for clients that accept gzip
            echo str_repeat("Torus compresses this line when asked to.\n", 200);
            break;

        case '/exit': // the response is completed, then the worker restarts
            echo "exiting\n";
            exit();

        case '/fatal': // 500, then the worker restarts
            trigger_error('a fatal error on purpose', E_USER_ERROR);
            break;

        case '/memory': // exhausting memory_limit is fatal too
            ini_set('memory_limit', '16M');
            $chunks = [];
            for ($i = 0; $i < 64; $i++) {
                $chunks[] = str_repeat('m', 1 << 20);
            }
            break;

        case '/timeout': // so is running out of time
            set_time_limit(1);
            while (true) {
            }

        case '/nap': // a request well inside its time limit: neither cut nor woken early
            set_time_limit(1);
            $started = microtime(true);
            usleep(300000);
            printf('slept %.3f', microtime(true) - $started);
            break;

        case '/filter_server': // ext/filter's copy of this request's variables
            require __DIR__ . '/filter_server.php';
            break;

        case '/throw': // 500, and the worker goes on
            throw new RuntimeException('thrown in the handler');

        default:
            http_response_code(404);
            echo "no such route\n";
    }
};

while (torus_handle_request($handler)) {
    // between two requests
}

// The server asked the worker to stop (shutdown, restart, --max-requests).
file_put_contents(__DIR__ . '/markers/stopped', "stopped after $requests requests\n");
