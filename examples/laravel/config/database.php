<?php

return [
    'default' => 'sqlite',

    'connections' => [
        // Created by tools/setup-examples (database/create.php).
        'sqlite' => [
            'driver' => 'sqlite',
            'database' => env('DB_DATABASE', storage_path('database.sqlite')),
            'prefix' => '',
            'foreign_key_constraints' => true,
        ],
    ],

    'migrations' => 'migrations',
];
