<?php
// One real call into each extension Torus' PHP build carries; prints
// {"extension": {"loaded": bool, "result": ...}} as JSON. A call that fails
// reports its error as the result, so the test names what broke.

$tmp = sys_get_temp_dir() . '/torus-ext-' . getmypid() . '-' . bin2hex(random_bytes(4));
mkdir($tmp);

function gd_resize(): array
{
    $image = imagecreatetruecolor(40, 30);
    imagefilledrectangle($image, 0, 0, 39, 29, imagecolorallocate($image, 200, 20, 20));
    $small = imagescale($image, 20, 15);
    ob_start();
    imagepng($small);
    $png = ob_get_clean();
    ob_start();
    imagejpeg($small);
    $jpeg = ob_get_clean();
    ob_start();
    imagewebp($small);
    $webp = ob_get_clean();
    $back = imagecreatefromstring($png);
    $info = gd_info();
    return [imagesx($back), imagesy($back), substr($jpeg, 0, 2) === "\xFF\xD8",
            substr($webp, 8, 4) === 'WEBP', $info['FreeType Support']];
}

function imagick_resize(): array
{
    $image = new Imagick();
    $image->newImage(40, 30, new ImagickPixel('blue'));
    $image->setImageFormat('png');
    $image->resizeImage(20, 15, Imagick::FILTER_LANCZOS, 1);
    $again = new Imagick();
    $again->readImageBlob($image->getImageBlob());
    return [$again->getImageWidth(), $again->getImageHeight(), $again->getImageFormat()];
}

function zip_round_trip(string $tmp): string
{
    $path = "$tmp/archive.zip";
    $zip = new ZipArchive();
    $zip->open($path, ZipArchive::CREATE | ZipArchive::OVERWRITE);
    $zip->addFromString('inside/hello.txt', 'zipped hello');
    $zip->close();
    $zip = new ZipArchive();
    $zip->open($path);
    $text = $zip->getFromName('inside/hello.txt');
    $zip->close();
    return $text;
}

function sodium_box(): string
{
    $alice = sodium_crypto_box_keypair();
    $bob = sodium_crypto_box_keypair();
    $nonce = random_bytes(SODIUM_CRYPTO_BOX_NONCEBYTES);
    $sealed = sodium_crypto_box('sealed message', $nonce, sodium_crypto_box_keypair_from_secretkey_and_publickey(
        sodium_crypto_box_secretkey($alice), sodium_crypto_box_publickey($bob)));
    return sodium_crypto_box_open($sealed, $nonce, sodium_crypto_box_keypair_from_secretkey_and_publickey(
        sodium_crypto_box_secretkey($bob), sodium_crypto_box_publickey($alice)));
}

function exif_type(string $tmp): int
{
    $image = imagecreatetruecolor(4, 4);
    imagejpeg($image, "$tmp/small.jpg");
    return exif_imagetype("$tmp/small.jpg");
}

function sysv(string $tmp): array
{
    touch("$tmp/key");
    $semaphore = sem_get(ftok("$tmp/key", 's'));
    $locked = sem_acquire($semaphore) && sem_release($semaphore);
    sem_remove($semaphore);
    $memory = shm_attach(ftok("$tmp/key", 'm'), 4096);
    shm_put_var($memory, 1, ['kept' => true]);
    $kept = shm_get_var($memory, 1);
    shm_remove($memory);
    $block = shmop_open(ftok("$tmp/key", 'o'), 'c', 0600, 16);
    shmop_write($block, 'shmop!', 0);
    $read = shmop_read($block, 0, 6);
    shmop_delete($block);
    return [$locked, $kept, $read];
}

$checks = [
    'gd' => fn() => gd_resize(),
    'imagick' => fn() => imagick_resize(),
    'intl' => fn() => (new NumberFormatter('de_DE', NumberFormatter::DECIMAL))->format(1234567.891),
    'zip' => fn() => zip_round_trip($tmp),
    'sodium' => fn() => sodium_box(),
    'exif' => fn() => exif_type($tmp),
    'gmp' => fn() => gmp_strval(gmp_pow(2, 100)),
    'bcmath' => fn() => bcadd('0.1', '0.2', 1),
    'soap' => fn() => get_class(new SoapServer(null, ['uri' => 'urn:torus'])),
    'sysvsem' => fn() => sysv($tmp)[0],
    'sysvshm' => fn() => sysv($tmp)[1],
    'shmop' => fn() => sysv($tmp)[2],
    'pcntl' => fn() => pcntl_strerror(1),
    'posix' => fn() => posix_getpid() === getmypid(),
    'calendar' => fn() => cal_days_in_month(CAL_GREGORIAN, 2, 2024),
    'gettext' => fn() => gettext('untranslated'),
    'pgsql' => fn() => function_exists('pg_connect') && class_exists('PgSql\\Connection'),
    'pdo_pgsql' => fn() => in_array('pgsql', PDO::getAvailableDrivers(), true),
    'redis' => fn() => get_class(new Redis()),
    'apcu' => fn() => apcu_store('torus-key', 42) && apcu_fetch('torus-key') === 42,
    'igbinary' => fn() => igbinary_unserialize(igbinary_serialize(['a' => [1, 2]])),
    'msgpack' => fn() => msgpack_unpack(msgpack_pack(['a' => [1, 2]])),
];

$report = [];
foreach ($checks as $name => $check) {
    $entry = ['loaded' => extension_loaded($name)];
    try {
        $entry['result'] = $entry['loaded'] ? $check() : null;
    } catch (Throwable $e) {
        $entry['result'] = 'error: ' . get_class($e) . ': ' . $e->getMessage();
    }
    $report[$name] = $entry;
}
$report['defaults'] = [
    'zts' => PHP_ZTS,
    'timezone' => date_default_timezone_get(),
    'pdo_mysql.default_socket' => ini_get('pdo_mysql.default_socket'),
    'jit' => function_exists('opcache_get_status') ? (opcache_get_status(false)['jit'] ?? null) : null,
    'last_error' => error_get_last(),
];

array_map('unlink', glob("$tmp/*"));
rmdir($tmp);
header('Content-Type: application/json');
echo json_encode($report);
