<?php
// The response-header functions of PHP.
header_register_callback(function () {
    header('X-Callback: ran');
});
header('X-One: 1');
header('X-Removed: gone');
header_remove('X-Removed');
header('X-Multi: a');
header('X-Multi: b', false);
header('X-Replaced: old');
header('X-Replaced: new');
http_response_code(201);
setcookie('first', 'one');
setcookie('second', 'two', ['path' => '/sub', 'httponly' => true]);
echo 'code=' . http_response_code();
