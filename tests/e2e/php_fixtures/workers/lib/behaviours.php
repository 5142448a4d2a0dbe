<?php
// What frameworks rely on, one case per path; run by the worker behave.php
// (inside frankenphp_handle_request()) and by the classic script classic.php.
// Markers go to ../markers/.

final class LoudDestructor
{
    public function __destruct()
    {
        echo "output of a destructor\n";
    }
}

/** A session save handler of the script's own, files under $dir (as frameworks bring theirs). */
final class OwnSessionHandler implements SessionHandlerInterface
{
    public int $reads = 0;

    public function __construct(private string $dir)
    {
    }

    public function open(string $path, string $name): bool
    {
        return true;
    }

    public function close(): bool
    {
        return true;
    }

    public function read(string $id): string|false
    {
        $this->reads++;
        return (string) @file_get_contents($this->dir . '/own_' . $id);
    }

    public function write(string $id, string $data): bool
    {
        return file_put_contents($this->dir . '/own_' . $id, $data) !== false;
    }

    public function destroy(string $id): bool
    {
        @unlink($this->dir . '/own_' . $id);
        return true;
    }

    public function gc(int $max_lifetime): int|false
    {
        return 0;
    }
}

function markers_dir(): string
{
    return dirname(__DIR__) . '/markers';
}

function behave(string $case, ?OwnSessionHandler &$handler): void
{
    switch ($case) {
        case 'exit':
            echo "written before exit\n";
            exit(0);

        case 'dd': // Laravel's dd(): a 500 status, the dump, exit(1); destructors run on the way out
            $object = new LoudDestructor();
            if (!headers_sent()) {
                header('HTTP/1.1 500 Internal Server Error');
            }
            echo "dumped\n";
            exit(1);

        case 'exit-buffered': // output still in a buffer the script opened (as frameworks do)
            ob_start();
            echo "buffered before exit\n";
            exit(1);

        case 'die-message':
            echo "first ";
            die("then die's message\n");

        case 'exit-in-shutdown-function':
            register_shutdown_function(static function (): void {
                echo "from a shutdown function\n";
            });
            echo "body\n";
            exit(0);

        case 'destruct': // a destructor that runs as the request's handler returns
            $object = new LoudDestructor();
            echo "body\n";
            return;

        case 'session-handler-in-request':
            if ($handler === null) {
                $handler = new OwnSessionHandler(markers_dir());
                session_set_save_handler($handler, true);
            }
            // fall through
        case 'session':
            if (!session_start()) {
                echo "session_start failed\n";
                return;
            }
            $_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;
            echo 'n=', $_SESSION['n'], ' reads=', $handler?->reads ?? '-', "\n";
            return;

        case 'session-timeout': // holds the session's lock and runs out of time
            session_start();
            $_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;
            set_time_limit(1);
            for (;;) {
            }

        case 'session-fatal': // holds the session's lock and dies of a fatal error
            session_start();
            undefined_function_for_the_test();
            return;

        case 'abort': // the client resets the connection while this runs
            $marker = markers_dir() . '/' . basename($_GET['marker'] ?? 'abort');
            file_put_contents($marker . '.started', '1');
            for ($i = 0; $i < 200 && !file_exists($marker . '.go'); $i++) {
                usleep(25000);
            }
            // Streams until the server has noticed the reset (or ?rounds= lines for a client that stays).
            $rounds = (int) ($_GET['rounds'] ?? 200);
            for ($i = 0; $i < $rounds && !connection_aborted(); $i++) {
                echo str_repeat('x', 1024), "\n";
                flush();
                usleep(20000);
            }
            file_put_contents($marker, 'aborted=' . (int) connection_aborted() . ' status=' . connection_status());
            return;

        case 'log':
            frankenphp_log('hello from php', 4, ['user' => 'alice', 'attempt' => 2, 'tags' => ['a', 'b']]);
            torus_log("torus name\nsecond line", -4);
            torus_log('an error', 8, ['code' => 'E 42']);
            echo "logged\n";
            return;

        case 'auth':
            header('Content-Type: application/json');
            echo json_encode(array_map(static fn ($k) => $_SERVER[$k] ?? null,
                array_combine($k = ['PHP_AUTH_USER', 'PHP_AUTH_PW', 'AUTH_TYPE', 'REMOTE_USER'], $k)));
            return;

        case 'hints':
            header('Link: </style.css>; rel=preload; as=style');
            header('X-Early: early');
            headers_send(103);
            header('X-Final: yes');
            echo "final\n";
            return;

        case 'cgi':
            header('Content-Type: application/json');
            echo json_encode([
                'CONTENT_TYPE' => $_SERVER['CONTENT_TYPE'] ?? null,
                'CONTENT_LENGTH' => $_SERVER['CONTENT_LENGTH'] ?? null,
                'HTTP_CONTENT_TYPE' => array_key_exists('HTTP_CONTENT_TYPE', $_SERVER),
                'HTTP_CONTENT_LENGTH' => array_key_exists('HTTP_CONTENT_LENGTH', $_SERVER),
                'body' => file_get_contents('php://input'),
            ]);
            return;

        case 'putenv':
            $before = getenv('TORUS_W2_PUTENV');
            putenv('TORUS_W2_PUTENV=changed-by-a-request');
            echo 'before=', var_export($before, true), "\n";
            return;

        case 'finish':
            $marker = markers_dir() . '/' . basename($_GET['marker'] ?? 'finish');
            echo "sent\n";
            fastcgi_finish_request();
            $first = connection_status();
            echo "dropped\n";
            file_put_contents($marker, "after=$first after_output=" . connection_status()
                . ' aborted=' . (int) connection_aborted());
            return;

        default:
            http_response_code(404);
            echo "no such case: $case\n";
    }
}
