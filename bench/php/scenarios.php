<?php
/*
 * The benchmark scenarios, one function each. Every server runs this same
 * code: the classic-mode scripts (hello.php, json.php, ...) call one function
 * per request, and worker.php calls bench_dispatch() from its request loop.
 *
 * Database handles live in function statics. In classic mode (php-fpm,
 * php -S, Torus classic) statics are reset by every request, so the
 * connection itself is kept by PDO's persistent-connection list; in worker
 * mode the statics survive and the prepared statements are reused too. That
 * is "the connection kept open across requests where the server allows it".
 *
 * bench/run writes bench-config.php next to this file in its temporary
 * document root; the defaults below let the scripts run from the source tree.
 */

declare(strict_types=1);

if (is_file(__DIR__ . '/bench-config.php')) {
    require_once __DIR__ . '/bench-config.php';
}
defined('BENCH_SQLITE_PATH') || define('BENCH_SQLITE_PATH', __DIR__ . '/bench.sqlite');
defined('BENCH_MARIADB_SOCKET') || define('BENCH_MARIADB_SOCKET', '/run/mysqld/mysqld.sock');
defined('BENCH_BURN_ITERATIONS') || define('BENCH_BURN_ITERATIONS', 60000);
defined('BENCH_ROWS') || define('BENCH_ROWS', 10000);

/* `hello`: 13 bytes of text. */
function bench_hello(): void
{
    header('Content-Type: text/plain');
    echo 'Hello, world!';
}

/* `json`: json_encode of a ten-key document. */
function bench_json(): void
{
    header('Content-Type: application/json');
    echo json_encode([
        'id' => 12345,
        'name' => 'Torus benchmark',
        'active' => true,
        'score' => 98.6,
        'tags' => ['php', 'http', 'io_uring'],
        'owner' => ['id' => 7, 'login' => 'bench'],
        'created' => '2024-01-01T00:00:00Z',
        'ratio' => 0.125,
        'count' => 42,
        'note' => 'Quotes "and" <brackets> & ampersands',
    ]);
}

/* `template`: an HTML table of 50 rows, every cell escaped. */
function bench_template(): void
{
    header('Content-Type: text/html; charset=UTF-8');
    $rows = [];
    for ($i = 1; $i <= 50; $i++) {
        $rows[] = [
            'id' => $i,
            'name' => "Item #$i <special> & \"quoted\"",
            'price' => sprintf('%.2f', $i * 1.75),
            'owner' => "O'Brien & Sons $i",
        ];
    }
    $out = "<!DOCTYPE html>\n<html><head><title>Items</title></head><body>\n<table>\n"
        . "<tr><th>Id</th><th>Name</th><th>Price</th><th>Owner</th></tr>\n";
    foreach ($rows as $row) {
        $out .= '<tr><td>' . $row['id'] . '</td><td>' . htmlspecialchars($row['name'])
            . '</td><td>' . htmlspecialchars($row['price']) . '</td><td>'
            . htmlspecialchars($row['owner']) . "</td></tr>\n";
    }
    $out .= "</table>\n</body></html>\n";
    echo $out;
}

/* A random row id of the 10,000-row tables. */
function bench_random_id(): int
{
    return mt_rand(1, BENCH_ROWS);
}

/* `sqlite-read`: one row by random id from the SQLite file. */
function bench_sqlite_read(): void
{
    static $statement = null;
    if ($statement === null) {
        $pdo = new PDO('sqlite:' . BENCH_SQLITE_PATH, null, null, [
            PDO::ATTR_PERSISTENT => true,
            PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        ]);
        $statement = $pdo->prepare('SELECT id, name, value FROM items WHERE id = ?');
    }
    $statement->execute([bench_random_id()]);
    $row = $statement->fetch(PDO::FETCH_ASSOC);
    $statement->closeCursor();
    header('Content-Type: application/json');
    echo json_encode($row);
}

/* The MariaDB connection, on the unix socket bench/run started it on. */
function bench_mariadb(): PDO
{
    static $pdo = null;
    if ($pdo === null) {
        $pdo = new PDO('mysql:unix_socket=' . BENCH_MARIADB_SOCKET . ';dbname=bench;charset=utf8mb4',
            'root', '', [
                PDO::ATTR_PERSISTENT => true,
                PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
            ]);
    }
    return $pdo;
}

/* `mariadb-read`: one row by random id. */
function bench_mariadb_read(): void
{
    static $statement = null;
    $statement ??= bench_mariadb()->prepare('SELECT id, name, value FROM items WHERE id = ?');
    $statement->execute([bench_random_id()]);
    $row = $statement->fetch(PDO::FETCH_ASSOC);
    $statement->closeCursor();
    header('Content-Type: application/json');
    echo json_encode($row);
}

/* `mariadb-write`: one INSERT of the posted payload. */
function bench_mariadb_write(): void
{
    static $statement = null;
    $statement ??= bench_mariadb()->prepare('INSERT INTO writes (item_id, payload) VALUES (?, ?)');
    $payload = isset($_POST['payload']) ? (string) $_POST['payload'] : 'none';
    $statement->execute([bench_random_id(), substr($payload, 0, 200)]);
    header('Content-Type: application/json');
    echo json_encode(['id' => (int) bench_mariadb()->lastInsertId()]);
}

/* Burns CPU: a fixed number of md5 rounds, calibrated by bench/run to ~20 ms. */
function bench_burn_rounds(int $rounds): string
{
    $hash = 'torus';
    for ($i = 0; $i < $rounds; $i++) {
        $hash = md5($hash);
    }
    return $hash;
}

/* `cpu-mix`'s slow request. */
function bench_burn(): void
{
    header('Content-Type: text/plain');
    echo bench_burn_rounds(BENCH_BURN_ITERATIONS);
}

/*
 * `slow-reader`'s response: MIB chunks of 1 MiB (default 512), chunk i being
 * its number as 16 decimal digits followed by the fixed pattern of
 * bench_stream_pattern(), so the client can check every byte and its place.
 * ?flush=1 calls flush() after each chunk; without it the server decides
 * when the output leaves PHP.
 */
function bench_stream_pattern(): string
{
    return str_repeat('0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_', 16384);
}

function bench_stream(): void
{
    $mib = isset($_GET['mib']) ? max(1, min(1024, (int) $_GET['mib'])) : 512;
    $flush = !empty($_GET['flush']);
    header('Content-Type: application/octet-stream');
    $pattern = substr(bench_stream_pattern(), 16);
    for ($i = 0; $i < $mib; $i++) {
        echo sprintf('%016d', $i), $pattern;
        if ($flush) {
            flush();
        }
    }
}

/* `upload-400m`: the sha256 and length of the request body, read from php://input in 1 MiB reads. */
function bench_upload(): void
{
    $in = fopen('php://input', 'rb');
    $context = hash_init('sha256');
    $bytes = 0;
    while (!feof($in)) {
        $block = fread($in, 1 << 20);
        if ($block === false || $block === '') {
            break;
        }
        $bytes += strlen($block);
        hash_update($context, $block);
    }
    fclose($in);
    header('Content-Type: application/json');
    echo json_encode(['bytes' => $bytes, 'sha256' => hash_final($context)]);
}

/* Worker mode: runs the scenario whose script the request path names. */
function bench_dispatch(string $path): void
{
    switch ($path) {
        case '/hello.php':
            bench_hello();
            return;
        case '/json.php':
            bench_json();
            return;
        case '/template.php':
            bench_template();
            return;
        case '/sqlite-read.php':
            bench_sqlite_read();
            return;
        case '/mariadb-read.php':
            bench_mariadb_read();
            return;
        case '/mariadb-write.php':
            bench_mariadb_write();
            return;
        case '/burn.php':
            bench_burn();
            return;
        case '/stream.php':
            bench_stream();
            return;
        case '/upload.php':
            bench_upload();
            return;
    }
    http_response_code(404);
    header('Content-Type: text/plain');
    echo "no scenario at $path\n";
}
